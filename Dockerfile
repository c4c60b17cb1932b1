# syntax=docker/dockerfile:1
# The server and the campaign worker, compiled, on plain node (no TypeScript loader).
#   docker build -t realtime-graphql-server .
#   docker run -e REDIS_URL=redis://… -e JWT_SECRET=… -p 4000:4000 realtime-graphql-server
#   worker: the same image with the command `node dist/worker/main.js` (see compose.yaml)
ARG NODE_VERSION=20

# 1. Compile TypeScript to dist/ (needs the dev dependencies).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# 2. Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The image: node, production dependencies, compiled code, the SDL it loads at start-up.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production PORT=4000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY schema ./schema
# The status page's static files (src/status/page.ts).
COPY public ./public
USER node
EXPOSE 4000
# /health is 200 while the process can serve (503 while shutting down or Redis is unreachable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (graceful shutdown), no npm or shell in between.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
