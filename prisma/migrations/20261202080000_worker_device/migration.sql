-- What a built-in worker trains on, as it registers: the device's name (a GPU's model from
-- nvidia-smi, or the CPU model), its memory and the NVIDIA driver (GPU workers).

-- AlterTable
ALTER TABLE "workers" ADD COLUMN "device_name" TEXT,
ADD COLUMN "device_memory_mib" INTEGER,
ADD COLUMN "driver" TEXT;
