# The lrsweep API. Build from the repository root: docker build -f docker/api.Dockerfile .
FROM node:20-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY . .
# Installing generates the Prisma client (@lrsweep/db's postinstall).
RUN pnpm install --frozen-lockfile \
 && pnpm --filter @lrsweep/dashboard build
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# Migrations are idempotent and recorded in _prisma_migrations; apply them, then serve.
CMD ["sh", "-c", "pnpm db:migrate && exec pnpm --filter @lrsweep/api start"]
