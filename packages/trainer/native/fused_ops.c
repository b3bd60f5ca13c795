// Fused kernels for the native (tfjs-node) backend: layer normalisation and GELU, forward and
// backward, each one TensorFlow op where TF.js would dispatch 7 to 12 elementwise ops (each
// ~15 µs of dispatch and a pass over memory). Registered through TensorFlow's stable C API for
// custom ops (tensorflow/c/ops.h, kernels.h) into the process's op and kernel registries, which
// the tfjs-node binding's eager ops read; loaded as a Node-API module by each training thread.
// Those registries are process-wide and outlive the thread, so the ops are registered once per
// process: `pthread_once` below, and the library is linked -z nodelete (setup-tensorflow.mjs) so
// that Node, unloading a replaced thread's add-ons, cannot unload it and reset that guard (a
// second registration makes TensorFlow abort the process: op.cc, ALREADY_EXISTS).
//
// Semantics match the composed TF.js ops in layers.ts (the wasm path) to float32 rounding:
//   LrsweepLayerNorm(x, gamma, beta; epsilon) -> y, mean, rstd   (over the last axis, biased variance)
//   LrsweepLayerNormGrad(dy, x, gamma, mean, rstd) -> dx, dgamma, dbeta
//   LrsweepGelu(x) -> x·σ(c(x + 0.044715x³)), c = 2√(2/π)       (GELU's tanh form)
//   LrsweepGeluGrad(dy, x) -> dy·(σ + x·σ(1−σ)·c(1 + 3·0.044715x²))
// Each kernel is single-threaded (TF's intra-op pool is process-wide, shared by a worker's slots) and deterministic
// on a given CPU (a fixed order of summation), so forks and resumed runs stay bit-identical there
// (as with TF's own kernels, an AVX2 machine and an older one round differently).
// Built by scripts/setup-tensorflow.mjs against the wheel's headers; nothing of it is committed
// but this file.
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "tensorflow/c/kernels.h"
// ops.h declares its types as bare structs (it is written for C++): name them for C.
typedef struct TF_DimensionHandle TF_DimensionHandle;
typedef struct TF_OpDefinitionBuilder TF_OpDefinitionBuilder;
typedef struct TF_ShapeHandle TF_ShapeHandle;
typedef struct TF_ShapeInferenceContext TF_ShapeInferenceContext;
#include "tensorflow/c/ops.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// One build runs on any x86-64: the AVX2 + FMA copy where the CPU has them (chosen at load).
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VECTOR_CLONES
#endif

static const float GELU_C = 1.5957691216057308f;  // 2·√(2/π)
static const float GELU_K = 0.044715f;

// Eight lanes at a time, in GCC's vector extensions: compiled to AVX2 in the x86-64-v3 clone and
// to pairs of SSE ops in the default one. Written out rather than left to the auto-vectorizer,
// which if-converts the clamps by computing both sides and so runs the polynomial on lanes it then
// discards, where denormal intermediates cost a microcode assist each (6× slower, measured).
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) f8 splat(float v) { return (f8){v, v, v, v, v, v, v, v}; }
static inline __attribute__((always_inline)) f8 select8(i8 mask, f8 a, f8 b) { return (f8)((mask & (i8)a) | (~mask & (i8)b)); }

// e^x (Cephes' expf: range reduction by ln 2 and a degree-6 polynomial, within 2 ulp). x is
// clamped to where e^x and 2^n are normal floats (e^x saturates at ~2.4e38 and ~1.2e-38, which
// keeps the sigmoid below exact to float); a NaN stays NaN (it fails both comparisons).
// n = round(x / ln 2) by the 1.5·2²³ trick, which leaves n in the float's low bits.
static inline __attribute__((always_inline)) f8 exp8(f8 x) {
  const f8 hi = splat(88.3762626647949f), lo = splat(-87.3365478515625f), magic = splat(12582912.0f);
  x = select8(x > hi, hi, x);
  x = select8(x < lo, lo, x);
  f8 t = x * splat(1.44269504088896341f) + magic;
  f8 n = t - magic;
  f8 r = x - n * splat(0.693359375f) + n * splat(2.12194440e-4f);
  f8 p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * r * r + r + splat(1.0f);
  i8 bits = ((i8)t - 0x4B400000 + 127) << 23;
  return p * (f8)bits;
}

// σ(c(x + k·x³)), GELU's gate.
static inline __attribute__((always_inline)) f8 gate8(f8 v) { return splat(1.0f) / (splat(1.0f) + exp8(-splat(GELU_C) * (v + splat(GELU_K) * v * v * v))); }

// Runs `body` over n floats in blocks of eight (m = 8), then the last partial block (m < 8)
// through zero-padded copies: load8 and store8 move m floats.
#define EACH8(n, body)                                     \
  do {                                                     \
    int64_t i0 = 0, m = 8;                                 \
    for (; i0 + 8 <= (n); i0 += 8) body                    \
    if ((m = (n) - i0) > 0) body                           \
  } while (0)

static inline __attribute__((always_inline)) f8 load8(const float* p, int64_t m) {
  f8 v = splat(0.0f);
  if (m == 8) __builtin_memcpy(&v, p, sizeof v);
  else __builtin_memcpy(&v, p, (size_t)m * sizeof(float));
  return v;
}
static inline __attribute__((always_inline)) void store8(float* p, f8 v, int64_t m) {
  if (m == 8) __builtin_memcpy(p, &v, sizeof v);
  else __builtin_memcpy(p, &v, (size_t)m * sizeof(float));
}

VECTOR_CLONES static void gelu_forward(const float* x, float* y, int64_t n) {
  EACH8(n, {
    f8 v = load8(x + i0, m);
    store8(y + i0, v * gate8(v), m);
  });
}

VECTOR_CLONES static void gelu_backward(const float* dy, const float* x, float* dx, int64_t n) {
  EACH8(n, {
    f8 v = load8(x + i0, m);
    f8 s = gate8(v);
    f8 zp = splat(GELU_C) * (splat(1.0f) + splat(3.0f * GELU_K) * v * v);
    store8(dx + i0, load8(dy + i0, m) * (s + v * s * (splat(1.0f) - s) * zp), m);
  });
}

// Lanes 0..m-1 set (the valid part of a last partial block).
static inline __attribute__((always_inline)) i8 first_lanes(int64_t m) {
  const i8 index = {0, 1, 2, 3, 4, 5, 6, 7};
  return index < (i8){(int32_t)m, (int32_t)m, (int32_t)m, (int32_t)m, (int32_t)m, (int32_t)m, (int32_t)m, (int32_t)m};
}
static inline __attribute__((always_inline)) f8 masked(f8 v, int64_t m) { return m == 8 ? v : select8(first_lanes(m), v, splat(0.0f)); }
static inline __attribute__((always_inline)) float hsum8(f8 v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

// Per row of d values: mean, rstd = 1/√(var + ε) (the biased variance, from the centred values),
// y = (x − mean)·rstd·γ + β. Sums run in eight lanes, added in a fixed order.
VECTOR_CLONES static void layer_norm_forward(const float* x, const float* g, const float* b, float eps, float* y, float* mean, float* rstd, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    f8 s = splat(0.0f), q = splat(0.0f);
    EACH8(d, { s += load8(xr + i0, m); });
    const float mu = hsum8(s) / (float)d;
    EACH8(d, {
      f8 c = masked(load8(xr + i0, m) - splat(mu), m);
      q += c * c;
    });
    const float rs = 1.0f / sqrtf(hsum8(q) / (float)d + eps);
    EACH8(d, { store8(yr + i0, (load8(xr + i0, m) - splat(mu)) * splat(rs) * load8(g + i0, m) + load8(b + i0, m), m); });
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// Rows whose dγ and dβ terms are summed in float before they join the double totals.
#define GRAD_BLOCK 32

// dx̂ = dy·γ; dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)); dγ = Σ dy·x̂, dβ = Σ dy over the rows
// (float sums of GRAD_BLOCK rows, added into double totals: a fixed order, and accurate over
// thousands of rows). `part` holds 2·d floats of scratch.
VECTOR_CLONES static void layer_norm_backward(const float* dy, const float* x, const float* g, const float* mean, const float* rstd, float* dx, double* dg, double* db, float* part, int64_t rows, int64_t d) {
  float *pg = part, *pb = part + d;
  for (int64_t r = 0; r < rows; r++) {
    if (r % GRAD_BLOCK == 0) memset(part, 0, (size_t)(2 * d) * sizeof(float));
    const float* xr = x + r * d;
    const float* dyr = dy + r * d;
    float* dxr = dx + r * d;
    const f8 mu = splat(mean[r]), rs = splat(rstd[r]);
    f8 s1 = splat(0.0f), s2 = splat(0.0f);
    EACH8(d, {
      f8 xh = (load8(xr + i0, m) - mu) * rs;
      f8 dyv = load8(dyr + i0, m);
      f8 dxh = dyv * load8(g + i0, m);
      s1 += dxh;
      s2 += masked(dxh * xh, m);
      store8(pg + i0, load8(pg + i0, m) + dyv * xh, m);
      store8(pb + i0, load8(pb + i0, m) + dyv, m);
    });
    const f8 m1 = splat(hsum8(s1) / (float)d), m2 = splat(hsum8(s2) / (float)d);
    EACH8(d, {
      f8 xh = (load8(xr + i0, m) - mu) * rs;
      store8(dxr + i0, rs * (load8(dyr + i0, m) * load8(g + i0, m) - m1 - xh * m2), m);
    });
    if (r % GRAD_BLOCK == GRAD_BLOCK - 1 || r == rows - 1) {
      for (int64_t j = 0; j < d; j++) dg[j] += pg[j], db[j] += pb[j];
    }
  }
}

// ---- kernels: inputs checked, outputs allocated, the loops above run ----

typedef struct {
  TF_OpKernelContext* ctx;
  TF_Status* status;
  TF_Tensor* held[8];
  int n;
} Call;

static void call_end(Call* c) {
  for (int i = 0; i < c->n; i++) TF_DeleteTensor(c->held[i]);
  TF_DeleteStatus(c->status);
}

static int fail(Call* c, const char* msg) {
  TF_SetStatus(c->status, TF_INVALID_ARGUMENT, msg);
  TF_OpKernelContext_Failure(c->ctx, c->status);
  return 0;
}

static const float* input(Call* c, int i, TF_Tensor** t) {
  TF_GetInput(c->ctx, i, t, c->status);
  if (TF_GetCode(c->status) != TF_OK) {
    TF_OpKernelContext_Failure(c->ctx, c->status);
    *t = NULL;
    return NULL;
  }
  c->held[c->n++] = *t;
  if (TF_TensorType(*t) != TF_FLOAT) {
    fail(c, "lrsweep fused ops take float32 tensors");
    return NULL;
  }
  return (const float*)TF_TensorData(*t);
}

static float* output(Call* c, int i, const TF_Tensor* like, int dropLast, int64_t lastDim) {
  int rank = TF_NumDims(like);
  int64_t dims[16];
  if (rank > 16) {
    fail(c, "lrsweep fused ops take tensors of rank ≤ 16");
    return NULL;
  }
  for (int k = 0; k < rank; k++) dims[k] = TF_Dim(like, k);
  if (lastDim >= 0) rank = 1, dims[0] = lastDim;
  else if (dropLast) rank -= 1;
  int64_t n = 1;
  for (int k = 0; k < rank; k++) n *= dims[k];
  TF_Tensor* t = TF_AllocateOutput(c->ctx, i, TF_FLOAT, dims, rank, (size_t)n * sizeof(float), c->status);
  if (TF_GetCode(c->status) != TF_OK) {
    TF_OpKernelContext_Failure(c->ctx, c->status);
    return NULL;
  }
  c->held[c->n++] = t;
  return (float*)TF_TensorData(t);
}

static int64_t last_dim(const TF_Tensor* t) { return TF_NumDims(t) ? TF_Dim(t, TF_NumDims(t) - 1) : 1; }

static void* layer_norm_create(TF_OpKernelConstruction* ctx) {
  float* eps = (float*)malloc(sizeof(float));
  TF_Status* s = TF_NewStatus();
  TF_OpKernelConstruction_GetAttrFloat(ctx, "epsilon", eps, s);
  if (TF_GetCode(s) != TF_OK) TF_OpKernelConstruction_Failure(ctx, s);
  TF_DeleteStatus(s);
  return eps;
}

static void release(void* kernel) { free(kernel); }

static void layer_norm_compute(void* kernel, TF_OpKernelContext* ctx) {
  Call c = {ctx, TF_NewStatus(), {0}, 0};
  TF_Tensor *tx, *tg, *tb;
  const float *x, *g, *b;
  float *y, *mean, *rstd;
  if (!(x = input(&c, 0, &tx)) || !(g = input(&c, 1, &tg)) || !(b = input(&c, 2, &tb))) goto done;
  int64_t d = last_dim(tx);
  if (TF_NumDims(tx) < 1 || d == 0) {
    fail(&c, "LrsweepLayerNorm: x must have a non-empty last axis");
    goto done;
  }
  if (TF_TensorElementCount(tg) != d || TF_TensorElementCount(tb) != d) {
    fail(&c, "LrsweepLayerNorm: gamma and beta must have x's last dimension");
    goto done;
  }
  if (!(y = output(&c, 0, tx, 0, -1)) || !(mean = output(&c, 1, tx, 1, -1)) || !(rstd = output(&c, 2, tx, 1, -1))) goto done;
  layer_norm_forward(x, g, b, *(float*)kernel, y, mean, rstd, TF_TensorElementCount(tx) / d, d);
done:
  call_end(&c);
}

static void layer_norm_grad_compute(void* kernel, TF_OpKernelContext* ctx) {
  (void)kernel;
  Call c = {ctx, TF_NewStatus(), {0}, 0};
  TF_Tensor *tdy, *tx, *tg, *tm, *tr;
  const float *dy, *x, *g, *mean, *rstd;
  float *dx, *dg, *db;
  if (!(dy = input(&c, 0, &tdy)) || !(x = input(&c, 1, &tx)) || !(g = input(&c, 2, &tg)) || !(mean = input(&c, 3, &tm)) || !(rstd = input(&c, 4, &tr))) goto done;
  int64_t d = last_dim(tx);
  int64_t rows = d ? TF_TensorElementCount(tx) / d : 0;
  if (TF_NumDims(tx) < 1 || d == 0 || TF_TensorElementCount(tdy) != TF_TensorElementCount(tx) || TF_TensorElementCount(tg) != d || TF_TensorElementCount(tm) != rows || TF_TensorElementCount(tr) != rows) {
    fail(&c, "LrsweepLayerNormGrad: dy must be x's shape, gamma its last dimension, mean and rstd one per row");
    goto done;
  }
  if (!(dx = output(&c, 0, tx, 0, -1)) || !(dg = output(&c, 1, tx, 0, d)) || !(db = output(&c, 2, tx, 0, d))) goto done;
  double* acc = (double*)calloc((size_t)(2 * d), sizeof(double));
  float* part = (float*)malloc((size_t)(2 * d) * sizeof(float));
  if (!acc || !part) {
    free(acc);
    free(part);
    fail(&c, "LrsweepLayerNormGrad: out of memory");
    goto done;
  }
  layer_norm_backward(dy, x, g, mean, rstd, dx, acc, acc + d, part, rows, d);
  for (int64_t j = 0; j < d; j++) dg[j] = (float)acc[j], db[j] = (float)acc[d + j];
  free(acc);
  free(part);
done:
  call_end(&c);
}

static void* nothing_create(TF_OpKernelConstruction* ctx) {
  (void)ctx;
  return NULL;
}

static void nothing_release(void* kernel) { (void)kernel; }

static void gelu_compute(void* kernel, TF_OpKernelContext* ctx) {
  (void)kernel;
  Call c = {ctx, TF_NewStatus(), {0}, 0};
  TF_Tensor* tx;
  const float* x;
  float* y;
  if (!(x = input(&c, 0, &tx)) || !(y = output(&c, 0, tx, 0, -1))) goto done;
  gelu_forward(x, y, TF_TensorElementCount(tx));
done:
  call_end(&c);
}

static void gelu_grad_compute(void* kernel, TF_OpKernelContext* ctx) {
  (void)kernel;
  Call c = {ctx, TF_NewStatus(), {0}, 0};
  TF_Tensor *tdy, *tx;
  const float *dy, *x;
  float* dx;
  if (!(dy = input(&c, 0, &tdy)) || !(x = input(&c, 1, &tx))) goto done;
  if (TF_TensorElementCount(tdy) != TF_TensorElementCount(tx)) {
    fail(&c, "LrsweepGeluGrad: dy must be x's shape");
    goto done;
  }
  if (!(dx = output(&c, 0, tx, 0, -1))) goto done;
  gelu_backward(dy, x, dx, TF_TensorElementCount(tx));
done:
  call_end(&c);
}

// ---- registration, once per process ----

static void unknown_shapes(TF_ShapeInferenceContext* ctx, TF_Status* status) { TF_ShapeInferenceContextSetUnknownShape(ctx, status); }

typedef struct {
  const char* name;
  const char* inputs[5];
  const char* outputs[3];
  const char* attr;
  void* (*create)(TF_OpKernelConstruction*);
  void (*compute)(void*, TF_OpKernelContext*);
  void (*release)(void*);
} OpSpec;

static const OpSpec OPS[] = {
    {"LrsweepLayerNorm", {"x: float", "gamma: float", "beta: float"}, {"y: float", "mean: float", "rstd: float"}, "epsilon: float = 1e-5", layer_norm_create, layer_norm_compute, release},
    {"LrsweepLayerNormGrad", {"dy: float", "x: float", "gamma: float", "mean: float", "rstd: float"}, {"dx: float", "dgamma: float", "dbeta: float"}, NULL, nothing_create, layer_norm_grad_compute, nothing_release},
    {"LrsweepGelu", {"x: float"}, {"y: float"}, NULL, nothing_create, gelu_compute, nothing_release},
    {"LrsweepGeluGrad", {"dy: float", "x: float"}, {"dx: float"}, NULL, nothing_create, gelu_grad_compute, nothing_release},
};
#define NUM_OPS (sizeof(OPS) / sizeof(OPS[0]))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char registration_error[512];

static void register_ops(void) {
  TF_Status* s = TF_NewStatus();
  for (size_t i = 0; i < NUM_OPS && !registration_error[0]; i++) {
    const OpSpec* op = &OPS[i];
    TF_OpDefinitionBuilder* b = TF_NewOpDefinitionBuilder(op->name);
    for (int k = 0; k < 5 && op->inputs[k]; k++) TF_OpDefinitionBuilderAddInput(b, op->inputs[k]);
    for (int k = 0; k < 3 && op->outputs[k]; k++) TF_OpDefinitionBuilderAddOutput(b, op->outputs[k]);
    if (op->attr) TF_OpDefinitionBuilderAddAttr(b, op->attr);
    TF_OpDefinitionBuilderSetShapeInferenceFunction(b, unknown_shapes);
    TF_RegisterOpDefinition(b, s);
    if (TF_GetCode(s) != TF_OK) {
      snprintf(registration_error, sizeof registration_error, "registering op %s: %s", op->name, TF_Message(s));
      break;
    }
    char kernel_name[64];
    snprintf(kernel_name, sizeof kernel_name, "%sCPU", op->name);
    TF_KernelBuilder* kb = TF_NewKernelBuilder(op->name, "CPU", op->create, op->compute, op->release);
    TF_RegisterKernelBuilder(kernel_name, kb, s);
    if (TF_GetCode(s) != TF_OK) snprintf(registration_error, sizeof registration_error, "registering kernel %s: %s", kernel_name, TF_Message(s));
  }
  TF_DeleteStatus(s);
}

NAPI_MODULE_INIT() {
  pthread_once(&once, register_ops);
  if (registration_error[0]) {
    napi_throw_error(env, NULL, registration_error);
    return NULL;
  }
  napi_value ops, name;
  napi_create_array_with_length(env, NUM_OPS, &ops);
  for (size_t i = 0; i < NUM_OPS; i++) {
    napi_create_string_utf8(env, OPS[i].name, NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, ops, (uint32_t)i, name);
  }
  napi_set_named_property(env, exports, "ops", ops);
  return exports;
}
