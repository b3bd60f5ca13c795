# A GPU worker: @tensorflow/tfjs-node-gpu 4.22 is built against TensorFlow 2.9 and needs
# CUDA 11.2+ with cuDNN 8.1+; this image uses CUDA 11.8 + cuDNN 8 on Ubuntu 22.04.
# Its install downloads libtensorflow (GPU), which is why it is not a default dependency.
#   docker build -f docker/worker-gpu.Dockerfile .
#   docker run --gpus all -e DATABASE_URL=… -e REDIS_URL=… lrsweep-worker-gpu
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates python3 make g++ \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY . .
RUN pnpm install --frozen-lockfile && node scripts/prisma-generate.mjs \
 && pnpm --filter @lrsweep/trainer add @tensorflow/tfjs-node-gpu@4.22.0 --allow-build=@tensorflow/tfjs-node-gpu
ENV NODE_ENV=production LRSWEEP_BACKEND=auto
STOPSIGNAL SIGTERM
CMD ["pnpm", "--filter", "@lrsweep/worker", "start"]
