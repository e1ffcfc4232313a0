# syntax=docker/dockerfile:1
# Threadline runs compiled: stage 1 installs every dependency, builds dist/ (npm run build, the same
# output the package ships) and prunes the dev dependencies (tsx, typescript) away; stage 2 is the
# runtime: those node_modules, dist/ and the price table, on plain node as the unprivileged `node`
# user. The worker bundles dist/workflows into Temporal's sandbox at start.
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node config ./config
USER node
# 3000: the API; 9464: the worker's Prometheus exporter (WORKER_METRICS_ADDRESS).
EXPOSE 3000 9464
# The API's liveness endpoint; the compose file gives the worker its own check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/api/server.js"]
