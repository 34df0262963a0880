# softnet-emu image: the CLI and every engine (coordinator, cpu, run), run through tsx as in the
# repo (no build step). Multi-stage: dependencies are installed in a throw-away stage, so npm's
# cache and package manifests' build tooling stay out of the final image; it runs as `node`.
#   docker build -t softnet-emu .
#   docker run --rm softnet-emu softnet-emu run --profile rt-6.6

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# zeromq ships prebuilt linux binaries: no compiler needed. tsx is a runtime dependency.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
# The CPU-node bundle (coordinator/cpu-bundle.ts) is written under node_modules/.cache at run time;
# /run/softnet holds the run's secret in docker-compose.yml (a named volume takes this owner).
RUN mkdir -p node_modules/.cache /run/softnet \
 && chown node:node node_modules/.cache /run/softnet \
 && ln -s /app/bin/softnet-emu.js /usr/local/bin/softnet-emu
USER node
# Coordinator: ZeroMQ (5555) and /metrics + control API (9100). CPUs pick their own peer port.
EXPOSE 5555 9100
CMD ["softnet-emu", "--help"]
