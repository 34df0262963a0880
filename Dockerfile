# softnet-emu image: the CLI and every engine (coordinator, cpu, run), compiled by scripts/build.mjs
# into dist/ (bin/softnet-emu.js runs it; tsx stays for SOFTNET_EMU_DEV=1). Multi-stage:
# dependencies are installed in a throw-away stage, so npm's cache and package manifests' build
# tooling stay out of the final image; it runs as `node`.
#   docker build -t softnet-emu .
#   docker run --rm softnet-emu softnet-emu run --profile rt-6.6

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/build.mjs scripts/
# zeromq ships prebuilt linux binaries: no compiler needed. esbuild and tsx are runtime dependencies.
# `prepare` (scripts/build.mjs) finds no sources in this stage and builds nothing: the build is below.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# The compiled CLI, from the sources as copied (owned by `node`, which could then rebuild it if a
# source were changed in the container); /run/softnet holds the run's secret in docker-compose.yml
# (a named volume takes this owner).
RUN node scripts/build.mjs \
 && mkdir -p /run/softnet \
 && chown -R node:node dist /run/softnet \
 && ln -s /app/bin/softnet-emu.js /usr/local/bin/softnet-emu
USER node
# Coordinator: ZeroMQ (5555) and /metrics + control API (9100). CPUs pick their own peer port.
EXPOSE 5555 9100
CMD ["softnet-emu", "--help"]
