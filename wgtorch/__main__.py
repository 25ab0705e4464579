"""``python -m wgtorch info``: the adapter, its limits and features."""

import sys


def info():
    from .backend import NoAdapterError, get_runtime
    from .backend.adapter import OPTIONAL_FEATURES

    try:
        rt = get_runtime()
    except NoAdapterError as exc:
        print(exc, file=sys.stderr)
        return 1
    i = rt.info
    print(f"adapter:   {i['device']}")
    print(f"vendor:    {i['vendor'] or '-'}  driver: {i['description'] or '-'}")
    print(f"backend:   {i['backend_type']}  type: {i['adapter_type']}")
    lim = rt.limits
    mib = 1024 * 1024
    print(f"max storage binding: {lim['max-storage-buffer-binding-size'] / mib:.0f} MiB   "
          f"max buffer: {lim['max-buffer-size'] / mib:.0f} MiB")
    print(f"workgroup: {lim['max-compute-invocations-per-workgroup']} invocations, size "
          f"{lim['max-compute-workgroup-size-x']}x{lim['max-compute-workgroup-size-y']}x"
          f"{lim['max-compute-workgroup-size-z']}, {lim['max-compute-workgroup-storage-size']} B "
          f"shared, {lim['max-compute-workgroups-per-dimension']} groups per dim")
    names = {"shader-f16": "f16", "shader-int64": "int64", "timestamp-query": "timestamp-query",
             "subgroup": "subgroups"}
    feats = ", ".join(f"{names[f]}={'yes' if f in rt.features else 'no'}"
                      for f in OPTIONAL_FEATURES)
    print(f"features:  {feats}")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "info":
        return info()
    if argv[0] == "bench":
        from .bench import main as bench_main

        return bench_main(argv[1:])
    print("usage: python -m wgtorch [info | bench ...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
