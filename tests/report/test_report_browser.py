"""The report in a real browser: headless Chromium opens it by its file:// URL, follows a run, filters, pages,
searches, opens a compare page, and shows text from data and models as text. Screenshots go under each test's
temporary folder. The counts on the page are checked against numbers computed here from the run folders.
"""

from __future__ import annotations

from bench.report.chromium import wait_rendered
from tests.report.synthetic import XSS, read_records


def _open(driver, url: str) -> None:
    driver.get(url)
    if driver.find_elements("css selector", "section.browser"):
        wait_rendered(driver, 1)


def _renders(driver) -> int:
    return int(driver.find_element("css selector", "section.browser").get_attribute("data-renders") or 0)


def _count(driver) -> int:
    return int(driver.find_element("id", "match-count").text.replace(",", ""))


def _ids(driver) -> list[str]:
    return [e.text for e in driver.find_elements("css selector", ".cards .card .sid")]


def _choose(driver, facet: str, value: int) -> None:
    from selenium.webdriver.support.ui import Select

    before = _renders(driver)
    Select(driver.find_element("css selector", f'select[data-facet="{facet}"]')).select_by_value(str(value))
    wait_rendered(driver, before + 1)


def _click(driver, selector: str) -> None:
    before = _renders(driver)
    driver.find_element("css selector", selector).click()
    wait_rendered(driver, before + 1)


def _no_errors(driver) -> None:
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    assert driver.execute_script("return window.__alerts") == []


def test_index_to_run_to_wrong_answers_and_the_next_page(chromium, report, world, tmp_path):
    driver = chromium
    _open(driver, (report / "index.html").as_uri())
    assert driver.find_element("css selector", "h1").text.startswith("Report of 7 run(s)")
    driver.save_screenshot(str(tmp_path / "index.png"))
    driver.find_element("css selector", '.run-card[data-slug="model-big--vqav2-val"] h3 a').click()
    wait_rendered(driver, 1)
    assert driver.current_url.endswith("runs/model-big--vqav2-val.html")
    records = read_records(world.folder("model-big", "vqav2", "val"))
    assert _count(driver) == len(records)
    assert _ids(driver) == [f"question {r['id']}" for r in records[:50]]

    _choose(driver, "score", 0)
    wrong = [r for r in records if r["accuracy"] == 0]
    assert _count(driver) == len(wrong)  # computed here, from samples.jsonl
    assert _ids(driver) == [f"question {r['id']}" for r in wrong[:50]]
    assert all("sc-bad" in e.get_attribute("class") for e in driver.find_elements("css selector", ".cards .card"))
    driver.save_screenshot(str(tmp_path / "wrong.png"))

    _click(driver, ".pager button.next")
    assert _ids(driver) == [f"question {r['id']}" for r in wrong[50:100]]
    assert driver.find_element("css selector", ".page-label").text == f"page 2 of {-(-len(wrong) // 50)}"
    pages = -(-len(wrong) // 50)
    for _ in range(pages - 2):  # to the last page, whose rows are in the third data file
        _click(driver, ".pager button.next")
    assert _ids(driver) == [f"question {r['id']}" for r in wrong[(pages - 1) * 50:]]
    assert records.index(wrong[-1]) >= 2000
    assert not driver.find_element("css selector", ".pager button.next").is_enabled()
    driver.save_screenshot(str(tmp_path / "last-page.png"))
    _choose(driver, "answer_type", 1)
    both = [r for r in wrong if r["answer_type"] == "other"]  # the answer types' options are sorted by name
    assert _count(driver) == len(both)
    assert _ids(driver) == [f"question {r['id']}" for r in both[:50]]
    _no_errors(driver)


def test_text_search_finds_samples_across_every_data_file(chromium, report, world):
    driver = chromium
    _open(driver, (report / "runs" / "model-big--vqav2-val.html").as_uri())
    before = _renders(driver)
    driver.find_element("id", "search").send_keys("answer 12")
    wait_rendered(driver, before + 1)
    records = read_records(world.folder("model-big", "vqav2", "val"))
    found = [r for r in records if "answer 12" in r["prediction"]]
    assert _count(driver) == len(found) > 100
    assert _ids(driver) == [f"question {r['id']}" for r in found[:50]]
    _no_errors(driver)


def test_texts_from_data_and_models_show_as_text(chromium, report, tmp_path):
    driver = chromium
    _open(driver, (report / "runs" / "model-a--vqav2-val.html").as_uri())
    first, second = driver.find_elements("css selector", ".cards .card")[:2]
    assert first.find_element("css selector", "dd.c-q").text == XSS  # the question, from the data set
    assert second.find_element("css selector", "dd.c-p").text == XSS  # the prediction, from the model
    assert driver.find_elements("css selector", 'img[src="x"]') == []
    driver.save_screenshot(str(tmp_path / "xss-vqa.png"))
    _no_errors(driver)
    _open(driver, (report / "runs" / "model-a--coco_caption-karpathy-test.html").as_uri())
    assert driver.find_element("css selector", ".cards .card dd.c-p").text == XSS
    assert driver.find_elements("css selector", 'img[src="x"]') == []
    _no_errors(driver)
    _open(driver, (report / "index.html").as_uri())
    assert XSS in driver.find_element("id", "runs").text  # the run named XSS
    _no_errors(driver)


def test_the_compare_page_shows_both_runs_side_by_side(chromium, report, world, tmp_path):
    driver = chromium
    _open(driver, (report / "index.html").as_uri())
    driver.find_element("css selector", '#compare a[href$="model-a--vqav2-val--vs--model-b--vqav2-val.html"]').click()
    wait_rendered(driver, 1)
    by_id_b = {r["id"]: r for r in read_records(world.folder("model-b", "vqav2", "val"))}
    changed = [r for r in read_records(world.folder("model-a", "vqav2", "val"))
               if by_id_b[r["id"]]["accuracy"] != r["accuracy"]]
    assert _count(driver) == len(changed) > 0
    cards = driver.find_elements("css selector", ".cards .card")
    assert len(cards) == min(50, len(changed))
    sides = cards[0].find_elements("css selector", ".side")
    assert [s.find_element("css selector", ".side-name").text for s in sides] == ["A: model-a", "B: model-b"]
    first = changed[0]
    assert sides[0].find_element("css selector", "dd.c-p").text == first["prediction"]
    assert sides[1].find_element("css selector", "dd.c-p").text == by_id_b[first["id"]]["prediction"]
    _choose(driver, "change", 0)
    assert _count(driver) == sum(by_id_b[r["id"]]["accuracy"] < r["accuracy"] for r in changed)
    driver.save_screenshot(str(tmp_path / "compare.png"))
    _no_errors(driver)


def test_retrieval_cards_mark_the_true_match(chromium, report, world, tmp_path):
    driver = chromium
    _open(driver, (report / "runs" / "model-a--flickr30k-test.html").as_uri())
    records = read_records(world.folder("model-a", "flickr30k", "test"))
    _choose(driver, "query", 1)
    texts = [r for r in records if r["query"] == "text"]
    assert _count(driver) == len(texts)
    for card, record in zip(driver.find_elements("css selector", ".cards .card"), texts, strict=False):
        items = card.find_elements("css selector", "ol.ranked li")
        assert len(items) == 5 and all(i.find_elements("css selector", "img") for i in items)
        marked = [n for n, item in enumerate(items, 1) if "true" in (item.get_attribute("class") or "")]
        assert marked == ([record["rank"]] if record["rank"] <= 5 else [])
    driver.save_screenshot(str(tmp_path / "retrieval.png"))
    _no_errors(driver)
