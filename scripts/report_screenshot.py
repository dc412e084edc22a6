"""The README's screenshot of the HTML report: `python scripts/report_screenshot.py [RUNS] [--out PNG]`.

It writes the report of the toy runs (default results/runs, which `python -m bench run` fills) into a
temporary folder, opens toy-opt's VQAv2 page in the system's headless Chromium, filters the sample browser to
the wrong answers and saves the top of the page as a small palette PNG (default docs/images/report.png).
Needs `apt-get install chromium chromium-driver` and the dev extra (selenium).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

RUN = "toy-opt--vqav2-val"  # the page shown: a VQA run has every part of the browser (filters, answers, scores)
WIDTH, HEIGHT = 1280, 1240


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=Path, default=Path("results/runs"), help="runs directory")
    parser.add_argument("--out", type=Path, default=Path("docs/images/report.png"), help="the PNG to write")
    args = parser.parse_args(argv)

    from PIL import Image
    from selenium.webdriver.support.ui import Select

    from bench.errors import BenchError
    from bench.report import ReportOptions, build_report
    from bench.report import chromium as headless

    reason = headless.missing_reason()
    if reason is not None:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        try:
            build_report([args.runs], Path(tmp) / "report", ReportOptions())
        except BenchError as exc:
            print(f"error: {exc}; run `python -m bench run` first", file=sys.stderr)
            return 2
        page = Path(tmp) / "report" / "runs" / f"{RUN}.html"
        if not page.is_file():
            print(f"error: {args.runs} has no toy-opt VQAv2 run; run `python -m bench run` first", file=sys.stderr)
            return 2
        driver = headless.start(Path(tmp) / "profile", WIDTH, HEIGHT)
        try:
            driver.get(page.as_uri())
            headless.wait_rendered(driver, 1)
            Select(driver.find_element("css selector", 'select[data-facet="score"]')).select_by_value("0")
            headless.wait_rendered(driver, 2)
            shot = Path(tmp) / "shot.png"
            driver.save_screenshot(str(shot))
        finally:
            driver.quit()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(shot) as image:  # a 256-colour palette keeps the committed PNG small
            image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
