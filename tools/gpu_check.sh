#!/usr/bin/env bash
# The GPU checks, run on a machine with an NVIDIA GPU, CuPy and PyTorch (for example through the device
# tool, from the repository root). Wheels the machine lacks are fetched here first into .whl/:
#   ../shared/tools/device-wheels.sh sphinx myst-parser furo sphinx-copybutton grimp ipython nbformat latex2mathml
#   pip download --no-deps ... nvidia-modelopt==0.47.0 omegaconf pulp==3.3.2 pydantic pydantic-core annotated-types
#     typing-inspection   (the platform flags of the device tool's README)
# and carried along. Logs go to $OUT (or ./gpu-logs).
set -u
OUT=${OUT:-gpu-logs}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl > "$OUT/pip.log" 2>&1 \
    || { tail "$OUT/pip.log"; exit 1; }
  export PYTHONPATH=$PWD:/tmp/site
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/card.txt"
plugin=(-p no:cacheprovider -p doc_runner.pytest_plugin -rs)

echo "== library, CUDA, nanoGPT and guide tests on numpy and cuda"
TRIPY_TEST_BACKENDS=numpy,cuda python3 -m pytest -q "${plugin[@]}" -n 8 tests/tripy tests/cuda tests/examples \
  tests/tensorrt/test_gpu.py docs tripy > "$OUT/gpu_tests.log" 2>&1; echo "rc=$?"; tail -3 "$OUT/gpu_tests.log"

echo "== docs build (the guides run on the GPU)"
python3 -m sphinx -W --keep-going -b html -q . /tmp/html > "$OUT/gpu_docs.log" 2>&1; echo "rc=$?"
page=$(find /tmp/html -name quantization.html)
echo "$page: $(grep -o 'loc=gpu:0' "$page" | wc -l) x loc=gpu:0, $(grep -o 'loc=cpu:0' "$page" | wc -l) x loc=cpu:0"

echo "== benchmarks"
python3 benchmarks/int8_linear.py > "$OUT/int8_linear.log" 2>&1; grep -E "^\(|compiled|x\+w scales\)  " "$OUT/int8_linear.log"
python3 benchmarks/nanogpt.py --max-runs 5 > "$OUT/nanogpt.log" 2>&1; tail -18 "$OUT/nanogpt.log"
python3 benchmarks/eager_gpu_latency.py 2>&1 | tail -8
