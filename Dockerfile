# syntax=docker/dockerfile:1
# Threadline runs from its TypeScript sources with tsx (a runtime dependency): the worker bundles
# src/workflows into Temporal's sandbox at start, so there is no compile step to keep in sync.
# Stage 1 installs production dependencies; stage 2 is the runtime: those node_modules, the
# sources and the price table, running as the unprivileged `node` user.
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json tsconfig.json ./
COPY --chown=node:node src ./src
COPY --chown=node:node config ./config
USER node
# 3000: the API; 9464: the worker's Prometheus exporter (WORKER_METRICS_ADDRESS).
EXPOSE 3000 9464
# The API's liveness endpoint; the compose file gives the worker its own check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "src/api/server.ts"]
