"""Compare every table of two result folders, or of a result folder and a record of one.

    python benchmarks/compare_tables.py BEFORE AFTER              exactly, e.g. results_before/smoke
                                                                  and results/smoke
    python benchmarks/compare_tables.py --record FILE RESULTS     record RESULTS' tables in FILE
    python benchmarks/compare_tables.py --check FILE RESULTS      compare RESULTS' tables with the
                                                                  record FILE, within tolerances

Files are matched by their path relative to each folder. Exactly: CSV/TSV tables after dropping
timing columns (wall-clock seconds, dates, host names), .npz arrays and .md text. Logs, per-job
timing files, the timing table and figures are left out: they differ from run to run by design.
A record (gzip'd JSON) holds the tables' values, so that a run on another machine can be compared
with it within tolerances by kind of value (the tolerances are printed with --check; see
mnist1d/pipeline/compare.py); tests/pipeline/golden/smoke.json.gz is the smoke preset's, which
tests/pipeline/test_smoke_outputs.py checks every smoke run against. Prints one line per problem
and a summary; exits 1 when anything differs.
"""
import argparse
import sys

from mnist1d.pipeline import compare


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="a result folder, or with --record/--check a record file")
    parser.add_argument("after", help="the result folder")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true",
                      help="write a record of AFTER's tables (and this machine) to BEFORE")
    mode.add_argument("--check", action="store_true",
                      help="compare AFTER's tables with the record BEFORE within tolerances")
    args = parser.parse_args(argv)
    if args.record:
        rec = compare.record(args.after)
        size = compare.save_record(args.before, rec)
        print(f"recorded {len(rec['tables'])} tables of {args.after} in {args.before} "
              f"({size / 1024:.0f} KiB)")
        return 0
    if args.check:
        recorded = compare.load_record(args.before)
        problems = compare.check_record(recorded, args.after)
        for line in problems:
            print(line)
        print("tolerances: " + "; ".join(compare.describe_tolerances()))
        print(f"{len(problems)} problems ({args.after} vs the record {args.before}, made on "
              f"{recorded['machine']['cpu']}, torch {recorded['machine']['torch']})")
        return 1 if problems else 0
    problems, identical = compare.compare_folders(args.before, args.after)
    for line in problems:
        print(line)
    print(f"{identical} tables identical, {len(problems)} problems "
          f"({args.before} vs {args.after}; logs, timings and figures left out)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
