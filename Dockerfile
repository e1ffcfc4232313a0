# First version: one image for the worker and the API, run from source with tsx.
# (The deployment work turns this into a multi-stage build with compiled output.)
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/api/server.ts"]
