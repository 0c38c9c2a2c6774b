// tripy's fused int8 Linear for Hopper (sm_90a): D[m, n] = alpha[n] * sum_k A[m, k] * B[n, k] + bias[n].
//
// A (M, K) and B (N, K) are row-major int8, the accumulation is exact int32 on the tensor cores (wgmma), and
// the epilogue applies the per-output-channel scale alpha (the input scale times the weight scale) and the
// bias before storing D (M, N) row-major as float16, bfloat16 or float32, so the int32 accumulators never
// reach device memory. The kernels are CUTLASS 3 warp-specialized TMA kernels built from CUTLASS's collective
// builders; this file only chooses their shapes and exposes them through a small C interface, loaded by
// tripy/backend/cuda/fused_gemm.py with ctypes. Rebuild with tools/build_int8_linear.py.
//
// Requirements checked by the caller (and again by can_implement): K a multiple of 16 and N a multiple of
// 16 / sizeof(D), pointers 16-byte aligned; alpha holds N floats; bias is N elements of D's type, or null.
//
// Every product is launched as a programmatic dependent launch: its blocks may start while the kernel before
// it on the stream (tripy's quantize kernel, which allows it at once) finishes, and they wait for that kernel
// to complete before they read or write device memory (CUTLASS's grid-dependency control, enabled below).

// Before any CUTLASS header: the kernels wait on the grid they depend on (griddepcontrol.wait).
#define CUTLASS_ENABLE_GDC_FOR_SM90 1

#include <cstdint>

#include <cuda_runtime.h>

#include "cute/tensor.hpp"
#include "cutlass/cutlass.h"
#include "cutlass/epilogue/collective/collective_builder.hpp"
#include "cutlass/epilogue/fusion/operations.hpp"
#include "cutlass/gemm/collective/collective_builder.hpp"
#include "cutlass/gemm/device/gemm_universal_adapter.h"
#include "cutlass/gemm/kernel/gemm_universal.hpp"

using namespace cute;

namespace {

template <class ElementD, class TileShape, class ClusterShape, class MainloopSchedule, class EpilogueSchedule>
struct Int8Linear {
  using LayoutA = cutlass::layout::RowMajor;     // x (M, K): K contiguous
  using LayoutB = cutlass::layout::ColumnMajor;  // W (N, K) row-major is B (K, N) column-major
  using LayoutD = cutlass::layout::RowMajor;
  static constexpr int kAlignAB = 16;
  static constexpr int kAlignD = 16 / sizeof(ElementD);

  // D = identity(alpha[n] * acc + beta * C + bias[n]) with no C (beta = 0 and no source tensor).
  using Fusion = cutlass::epilogue::fusion::PerColLinCombPerColBiasEltAct<
      cutlass::epilogue::thread::Identity, ElementD, float, ElementD, ElementD, float, kAlignD, 4>;

  using Epilogue = typename cutlass::epilogue::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, TileShape, ClusterShape,
      cutlass::epilogue::collective::EpilogueTileAuto, int32_t, float,
      void, LayoutD, kAlignD, ElementD, LayoutD, kAlignD, EpilogueSchedule, Fusion>::CollectiveOp;

  using Mainloop = typename cutlass::gemm::collective::CollectiveBuilder<
      cutlass::arch::Sm90, cutlass::arch::OpClassTensorOp, int8_t, LayoutA, kAlignAB, int8_t, LayoutB, kAlignAB,
      int32_t, TileShape, ClusterShape,
      cutlass::gemm::collective::StageCountAutoCarveout<static_cast<int>(sizeof(typename Epilogue::SharedStorage))>,
      MainloopSchedule>::CollectiveOp;

  using Kernel = cutlass::gemm::kernel::GemmUniversal<Shape<int, int, int, int>, Mainloop, Epilogue>;
  using Gemm = cutlass::gemm::device::GemmUniversalAdapter<Kernel>;

  static typename Gemm::Arguments arguments(const int8_t* a, const int8_t* b, void* d, const float* alpha,
                                            const void* bias, int m, int n, int k, int sm_count) {
    using StrideA = typename Gemm::GemmKernel::StrideA;
    using StrideB = typename Gemm::GemmKernel::StrideB;
    using StrideC = typename Gemm::GemmKernel::StrideC;
    using StrideD = typename Gemm::GemmKernel::StrideD;
    StrideA stride_a = make_stride(int64_t(k), Int<1>{}, int64_t(0));
    StrideB stride_b = make_stride(int64_t(k), Int<1>{}, int64_t(0));
    StrideC stride_c = make_stride(int64_t(n), Int<1>{}, int64_t(0));
    StrideD stride_d = make_stride(int64_t(n), Int<1>{}, int64_t(0));
    cutlass::KernelHardwareInfo hw;
    cudaGetDevice(&hw.device_id);
    hw.sm_count = sm_count;
    typename Gemm::Arguments args{cutlass::gemm::GemmUniversalMode::kGemm,
                                  {m, n, k, 1},
                                  {a, stride_a, b, stride_b},
                                  {{}, nullptr, stride_c, static_cast<ElementD*>(d), stride_d},
                                  hw};
    auto& fusion = args.epilogue.thread;
    fusion.alpha_ptr = alpha;
    fusion.dAlpha = {_0{}, bool(1), 0};
    fusion.beta = 0.0f;
    fusion.bias_ptr = static_cast<const ElementD*>(bias);
    return args;
  }

  static int workspace(int m, int n, int k, int sm_count, size_t* bytes) {
    auto args = arguments(nullptr, nullptr, nullptr, nullptr, nullptr, m, n, k, sm_count);
    *bytes = Gemm::get_workspace_size(args);
    return 0;
  }

  static int run(const int8_t* a, const int8_t* b, void* d, const float* alpha, const void* bias, int m, int n, int k,
                 void* workspace, size_t workspace_bytes, int sm_count, cudaStream_t stream) {
    constexpr bool kLaunchWithPdl = true;
    auto args = arguments(a, b, d, alpha, bias, m, n, k, sm_count);
    Gemm gemm;
    if (Gemm::get_workspace_size(args) > workspace_bytes) return 1000;
    cutlass::Status status = gemm.can_implement(args);
    if (status != cutlass::Status::kSuccess) return 2000 + static_cast<int>(status);
    // initialize() also sets the kernel's shared-memory size attribute, a driver call worth several
    // microseconds of host time: once per kernel, then only the workspace and the parameters per call.
    static bool attribute_set = false;
    if (!attribute_set) {
      status = gemm.initialize(args, workspace, stream);
      attribute_set = status == cutlass::Status::kSuccess;
    } else {
      status = Gemm::GemmKernel::initialize_workspace(args, workspace, stream);
      if (status == cutlass::Status::kSuccess) status = gemm.update(args, workspace);
    }
    if (status != cutlass::Status::kSuccess) return 3000 + static_cast<int>(status);
    status = gemm.run(stream, nullptr, kLaunchWithPdl);
    if (status != cutlass::Status::kSuccess) return 4000 + static_cast<int>(status);
    return 0;
  }
};

// The configurations, by the number of 128x128 output tiles the problem has (measured on an H200 with
// benchmarks/int8_linear.py and a sweep of tile shapes and clusters):
// Few rows (M <= 64, as in token-by-token decoding) or at most half a wave of 128x128 tiles: 64x128 tiles,
// so more of them cover the GPU.
template <class D>
using Small = Int8Linear<D, Shape<_64, _128, _128>, Shape<_1, _1, _1>, cutlass::gemm::KernelTmaWarpSpecializedPingpong,
                         cutlass::epilogue::TmaWarpSpecialized>;
// Up to one wave: 128x128 tiles, two consumer warpgroups taking turns (ping-pong), no cluster.
template <class D>
using OneWave = Int8Linear<D, Shape<_128, _128, _128>, Shape<_1, _1, _1>,
                           cutlass::gemm::KernelTmaWarpSpecializedPingpong, cutlass::epilogue::TmaWarpSpecialized>;
// Up to eight waves (4096^3): the same tiles in clusters of two along M, which share their B tiles.
template <class D>
using FewWaves = Int8Linear<D, Shape<_128, _128, _128>, Shape<_2, _1, _1>,
                            cutlass::gemm::KernelTmaWarpSpecializedPingpong, cutlass::epilogue::TmaWarpSpecialized>;
// Larger problems (8192^3): 128x256 tiles shared by two consumer warpgroups, clusters of two along M.
template <class D>
using Large = Int8Linear<D, Shape<_128, _256, _128>, Shape<_2, _1, _1>,
                         cutlass::gemm::KernelTmaWarpSpecializedCooperative,
                         cutlass::epilogue::TmaWarpSpecializedCooperative>;

template <template <class> class Config>
int dispatch_run(int out_kind, const int8_t* a, const int8_t* b, void* d, const float* alpha, const void* bias, int m,
                 int n, int k, void* ws, size_t ws_bytes, int sms, cudaStream_t s) {
  switch (out_kind) {
    case 0: return Config<cutlass::half_t>::run(a, b, d, alpha, bias, m, n, k, ws, ws_bytes, sms, s);
    case 1: return Config<cutlass::bfloat16_t>::run(a, b, d, alpha, bias, m, n, k, ws, ws_bytes, sms, s);
    case 2: return Config<float>::run(a, b, d, alpha, bias, m, n, k, ws, ws_bytes, sms, s);
    default: return 900;
  }
}

template <template <class> class Config>
int dispatch_workspace(int out_kind, int m, int n, int k, int sms, size_t* bytes) {
  switch (out_kind) {
    case 0: return Config<cutlass::half_t>::workspace(m, n, k, sms, bytes);
    case 1: return Config<cutlass::bfloat16_t>::workspace(m, n, k, sms, bytes);
    case 2: return Config<float>::workspace(m, n, k, sms, bytes);
    default: return 900;
  }
}

constexpr int kSmallRows = 64;

enum class Tiles { kSmall, kOneWave, kFewWaves, kLarge };

Tiles choose(int m, int n, int sm_count) {
  long long tiles = (static_cast<long long>(m) + 127) / 128 * ((static_cast<long long>(n) + 127) / 128);
  if (m <= kSmallRows || 2 * tiles <= sm_count) return Tiles::kSmall;
  if (tiles <= sm_count) return Tiles::kOneWave;
  if (tiles <= 8LL * sm_count) return Tiles::kFewWaves;
  return Tiles::kLarge;
}

}  // namespace

extern "C" {

// Which source this library was built from (the build script passes the source's SHA-256).
const char* tripy_int8_linear_source() { return TRIPY_SOURCE_SHA256; }

// Which configuration a product of these sizes uses: 0 small tiles, 1 one wave, 2 few waves, 3 large.
int tripy_int8_linear_config(int m, int n, int sm_count) { return static_cast<int>(choose(m, n, sm_count)); }

// Workspace bytes the product needs. out_kind: 0 float16, 1 bfloat16, 2 float32. Returns 0 on success.
int tripy_int8_linear_workspace(int out_kind, int m, int n, int k, int sm_count, size_t* bytes) {
  switch (choose(m, n, sm_count)) {
    case Tiles::kSmall: return dispatch_workspace<Small>(out_kind, m, n, k, sm_count, bytes);
    case Tiles::kOneWave: return dispatch_workspace<OneWave>(out_kind, m, n, k, sm_count, bytes);
    case Tiles::kFewWaves: return dispatch_workspace<FewWaves>(out_kind, m, n, k, sm_count, bytes);
    case Tiles::kLarge: return dispatch_workspace<Large>(out_kind, m, n, k, sm_count, bytes);
  }
  return 900;
}

// Enqueues the product on `stream`. Returns 0 on success, else a code naming the failing step
// (1000: workspace too small, 2000+: can_implement, 3000+: initialize, 4000+: launch; plus cutlass::Status).
int tripy_int8_linear(int out_kind, const int8_t* a, const int8_t* b, void* d, const float* alpha, const void* bias,
                      int m, int n, int k, void* workspace, size_t workspace_bytes, int sm_count, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (choose(m, n, sm_count)) {
    case Tiles::kSmall:
      return dispatch_run<Small>(out_kind, a, b, d, alpha, bias, m, n, k, workspace, workspace_bytes, sm_count, s);
    case Tiles::kOneWave:
      return dispatch_run<OneWave>(out_kind, a, b, d, alpha, bias, m, n, k, workspace, workspace_bytes, sm_count, s);
    case Tiles::kFewWaves:
      return dispatch_run<FewWaves>(out_kind, a, b, d, alpha, bias, m, n, k, workspace, workspace_bytes, sm_count, s);
    case Tiles::kLarge:
      return dispatch_run<Large>(out_kind, a, b, d, alpha, bias, m, n, k, workspace, workspace_bytes, sm_count, s);
  }
  return 900;
}

}  // extern "C"
