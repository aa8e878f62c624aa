"""Screenshots of Mailroom's pages at desktop and phone widths, to look at before calling a
page done (STYLE.md, "Pages"). Runs against a running server (`make run`):

    .venv/bin/python bench/screenshots.py --url http://127.0.0.1:8000 --out var/screenshots

It signs in through the login form (demo password `mailroom`), opens each page at each width
and writes <out>/<width>/<name>.png, printing the document's scrollWidth beside the width so a
page that scrolls sideways stands out."""

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "home": "/",
    "outbox": "/outbox/",
    "compose": "/compose/",
    "prospects": "/prospects/",
    "prospect-new": "/prospects/new/",
    "prospect-import": "/prospects/import/",
    "templates": "/templates/",
    "template-new": "/templates/new/",
    "campaigns": "/campaigns/",
    "campaign-new": "/campaigns/new/",
    "dashboard": "/analytics/",
    "analytics-templates": "/analytics/templates/",
    "analytics-campaigns": "/analytics/campaigns/",
    "feed": "/feed/",
    "bounces": "/bounces/",
    "settings": "/settings/email/",
    "profile": "/settings/profile/",
    "api-tokens": "/settings/api-tokens/",
    "not-found": "/no-such-page/",
}
# Pages reached from a list: the first link on the list page whose path matches.
FIRST_OF = {
    "template-detail": ("/templates/", r"^/templates/\d+/$"),
    "campaign-detail": ("/campaigns/", r"^/campaigns/\d+/$"),
    "prospect-detail": ("/prospects/", r"^/prospects/\d+/$"),
}
FIRST_LINK = """pattern => {
  const link = [...document.querySelectorAll("main a[href]")]
    .find(a => new RegExp(pattern).test(a.getAttribute("href")));
  return link ? link.getAttribute("href") : null;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default="var/screenshots")
    parser.add_argument("--user", default="rep@acme.test")
    parser.add_argument("--password", default="mailroom")
    parser.add_argument("--widths", default="1400,390")
    parser.add_argument("--only", default="", help="comma-separated page names (default: all)")
    parser.add_argument("--extra", default="", help="more pages: name=/path/,name2=/path2/")
    args = parser.parse_args()
    pages = dict(PAGES)
    for item in filter(None, args.extra.split(",")):
        name, _, path = item.partition("=")
        pages[name] = path
    if args.only:
        pages = {name: path for name, path in pages.items() if name in args.only.split(",")}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width in (int(w) for w in args.widths.split(",")):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(args.url + "/accounts/login/")
            page.fill("input[name=login]", args.user)
            page.fill("input[name=password]", args.password)
            page.press("input[name=password]", "Enter")  # the login form's own submit
            page.wait_for_load_state()
            folder = Path(args.out) / str(width)
            folder.mkdir(parents=True, exist_ok=True)
            found = {}
            for name, (listing, selector) in FIRST_OF.items():
                if args.only and name not in args.only.split(","):
                    continue
                page.goto(args.url + listing)
                if href := page.evaluate(FIRST_LINK, selector):
                    found[name] = href
            for name, path in {**pages, **found}.items():
                page.goto(args.url + path)
                scroll_width = page.evaluate("document.documentElement.scrollWidth")
                page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
                flag = "" if scroll_width <= width else "  <- scrolls sideways"
                print(f"{width:>5}px  {name:<20} scrollWidth {scroll_width}{flag}")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
