# syntax=docker/dockerfile:1
# One image, two commands: the API (default) and the agent worker
#   docker build -t phone-agents:0.1.0 .
#   docker run phone-agents:0.1.0                                  # API on :8080
#   docker run phone-agents:0.1.0 node dist/worker/main.js start   # worker
# Compiled JavaScript, not tsx: each call runs in its own forked worker process, and tsx's
# loader costs ~65 MB more per process (212 vs 146 MiB RSS after importing the agents SDK and
# plugins, measured with Node 20). glibc base: the native addons (onnxruntime-node,
# @livekit/rtc-node, @livekit/local-inference) ship glibc binaries.
# Pinned to an exact Node release; pin the digest too (node:20.20.2-bookworm-slim@sha256:...)
# once you have pulled it, for byte-for-byte rebuilds.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ── build: all dependencies, TypeScript → dist/ ────────────────────────────────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's install script downloads CUDA parts; the CPU binaries are in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ── prod-deps: production dependencies only ─────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ── runtime ──────────────────────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to Node (which drains: the API closes, the worker waits for
# its calls) and reaps the worker's exited job processes.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
# The worker's models are in node_modules (Silero VAD file, turn-detector weights inside
# @livekit/local-inference's native addon): nothing is downloaded at start. Fail the build if
# they are missing or do not load on this platform.
COPY infra/image/verify-runtime-files.mjs ./infra/image/
RUN node infra/image/verify-runtime-files.mjs
# The image's "node" user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 8081
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/api/main.js"]
