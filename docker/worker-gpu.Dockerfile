# A GPU worker on current CUDA: @tensorflow/tfjs-node-gpu's binding built by
# `scripts/setup-tensorflow.mjs --cuda` against TensorFlow 2.21's C API from the `tensorflow`
# wheel (CUDA 12), not the CUDA 11.2 libtensorflow 2.9 its own install downloads, so Hopper-class
# GPUs run natively. The CUDA 12 runtime libraries (cuDNN, cuBLAS, …) come from the nvidia-* wheels
# that `tensorflow[and-cuda]` pins. One worker per GPU: WORKER_SLOTS=1 and its CUDA_VISIBLE_DEVICES.
#   docker build -f docker/worker-gpu.Dockerfile -t lrsweep/worker-gpu .
#   docker run --gpus '"device=0"' -e DATABASE_URL=… -e REDIS_URL=… lrsweep/worker-gpu
#   scripts/gpu-check.sh inside it checks the backend in under 5 minutes.
FROM nvidia/cuda:12.5.1-base-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates python3 python3-pip make g++ \
 && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \
 && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*
# CUDA 12 runtime libraries as TensorFlow 2.21 pins them.
RUN python3 -m pip install --no-cache-dir "tensorflow[and-cuda]==2.21.0" && python3 -m pip uninstall -y tensorflow
ENV LD_LIBRARY_PATH=/usr/local/lib/python3.10/dist-packages/nvidia/cudnn/lib:/usr/local/lib/python3.10/dist-packages/nvidia/cublas/lib:/usr/local/lib/python3.10/dist-packages/nvidia/cuda_runtime/lib:/usr/local/lib/python3.10/dist-packages/nvidia/cufft/lib:/usr/local/lib/python3.10/dist-packages/nvidia/curand/lib:/usr/local/lib/python3.10/dist-packages/nvidia/cusolver/lib:/usr/local/lib/python3.10/dist-packages/nvidia/cusparse/lib:/usr/local/lib/python3.10/dist-packages/nvidia/nccl/lib:/usr/local/lib/python3.10/dist-packages/nvidia/nvjitlink/lib
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY . .
# tfjs-node-gpu's own install script stays denied (it would download libtensorflow 2.9); the
# setup script builds its binding instead, the same way as the CPU one (`pnpm setup:tensorflow`).
# Installing generates the Prisma client (@lrsweep/db's postinstall).
RUN pnpm install --frozen-lockfile \
 && pnpm --filter @lrsweep/trainer add @tensorflow/tfjs-node-gpu@4.22.0 \
 && node scripts/setup-tensorflow.mjs --cuda
ENV NODE_ENV=production LRSWEEP_BACKEND=tensorflow-gpu WORKER_SLOTS=1 TF_FORCE_GPU_ALLOW_GROWTH=true
STOPSIGNAL SIGTERM
CMD ["pnpm", "--filter", "@lrsweep/worker", "start"]
