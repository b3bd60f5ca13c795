# A CPU worker (TF.js wasm backend). Build from the repository root:
#   docker build -f docker/worker.Dockerfile .
FROM node:20-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY . .
# Installing generates the Prisma client (@lrsweep/db's postinstall).
RUN pnpm install --frozen-lockfile
ENV NODE_ENV=production LRSWEEP_BACKEND=wasm
STOPSIGNAL SIGTERM
CMD ["pnpm", "--filter", "@lrsweep/worker", "start"]
