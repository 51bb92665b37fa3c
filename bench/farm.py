#!/usr/bin/env python3
"""A deterministic feed farm for benchmarks: N feeds of M items each, a mix of RSS 2.0, Atom and
RSS 1.0 of 12-80 KB, with a few dedup traps (the same article in two feeds with tracking
parameters; a feed whose guids change every round), and rounds that change a fraction of feeds.

    python3 bench/farm.py DIR --feeds 1000 --items 30            # round 0
    python3 bench/farm.py DIR --feeds 1000 --items 30 --round 1 --change 0.1

Files are written only when their content changes, so a web server's ETag and Last-Modified
stay put for unchanged feeds (and a conditional GET gets a 304).
"""
import argparse
import hashlib
import pathlib
import random
from email.utils import formatdate
from xml.sax.saxutils import escape

EPOCH = 1_750_000_000  # a fixed moment: the farm is the same on every run


def words(rng, n):
    vocabulary = ("river harbour council rail science market policy report signal coast "
                  "budget survey vote grid storm school transit study trial bridge").split()
    return " ".join(rng.choice(vocabulary) for _ in range(n))


def _lexicon(size=50_000):
    """Names and rarer words, as real text has them: `size` made-up words whose frequencies
    follow Zipf's law (the n-th most common appears about 1/n as often as the first), so that a
    search for one of them finds a share of the items that depends on its rank (`bench/search.py`
    picks words by rank)."""
    syllables = ("ka lo mi ne ru sa ti vo ze ba de fi gu ho ja ke li mo nu pa qui ro se tu "
                 "va we xi yo zu bri cla dre flo gra ple sko stra tri").split()
    rng = random.Random("lexicon")
    seen, lexicon = set(), []
    while len(lexicon) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            lexicon.append(word)
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1.0 / rank ** 1.07
        cumulative.append(total)
    return lexicon, cumulative


LEXICON, CUMULATIVE = _lexicon()


def rare_words(rng, n):
    return " ".join(rng.choices(LEXICON, cum_weights=CUMULATIVE, k=n))


def items_for(feed, count, round_no, rng):
    """The newest `count` items of a feed at a round: one new item per round it changed."""
    changed_rounds = [r for r in range(1, round_no + 1) if changes(feed, r)]
    total = count + len(changed_rounds)
    items = []
    for i in range(total - count, total):
        item_rng = random.Random(f"{feed}-{i}")
        body_words = item_rng.randint(40, 330)
        link = f"https://pub{feed % 97}.example/{feed}/story-{i}"
        guid = f"feed{feed}-item{i}"
        if feed % 50 == 7:  # guid churn: new guids every round, same links
            guid = f"{guid}-r{round_no}"
        items.append({
            "guid": guid,
            "title": f"{words(item_rng, 4).title()} {rare_words(item_rng, 2).title()} {i}",
            "link": link,
            "date": EPOCH - (total - i) * 3600 - feed,
            "body": f"<p>{words(item_rng, body_words)}</p><p>{rare_words(item_rng, 16)}</p>"
                    f"<p><a href=\"{escape(link)}\">more</a></p>",
        })
    # Dedup trap: every 25th feed republishes the newest article of the feed before it.
    if feed % 25 == 24 and feed > 0:
        original = items_for(feed - 1, 1, round_no, rng)[-1]
        copy = dict(original, guid=f"wire{feed}-{original['guid']}",
                    link=original["link"] + "?utm_source=wire&utm_medium=rss")
        items.append(copy)
    return list(reversed(items))


def changes(feed, round_no):
    return random.Random(f"change-{feed}-{round_no}").random() < CHANGE


def rss2(feed, items):
    body = "".join(
        f"<item><title>{i['title']}</title><link>{escape(i['link'])}</link>"
        f"<guid isPermaLink=\"false\">{i['guid']}</guid>"
        f"<pubDate>{formatdate(i['date'], usegmt=True)}</pubDate>"
        f"<description><![CDATA[{i['body']}]]></description></item>" for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Publisher {feed}</title><link>https://pub{feed % 97}.example/</link>"
            f"<description>Feed {feed}</description>{body}</channel></rss>")


def atom(feed, items):
    from datetime import datetime, timezone
    stamp = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = "".join(
        f"<entry><title>{i['title']}</title><link href=\"{escape(i['link'])}\"/><id>urn:bench:{i['guid']}</id>"
        f"<updated>{stamp(i['date'])}</updated><content type=\"html\"><![CDATA[{i['body']}]]></content></entry>"
        for i in items)
    newest = stamp(max(i["date"] for i in items))
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Publisher {feed}</title><id>urn:bench:feed{feed}</id><updated>{newest}</updated>"
            f"<link href=\"https://pub{feed % 97}.example/\"/>{body}</feed>")


def rss1(feed, items):
    seq = "".join(f'<rdf:li rdf:resource="{escape(i["link"])}"/>' for i in items)
    body = "".join(
        f'<item rdf:about="{escape(i["link"])}"><title>{i["title"]}</title><link>{escape(i["link"])}</link>'
        f"<description><![CDATA[{i['body']}]]></description>"
        f"<dc:date>{formatdate(i['date'], usegmt=True)}</dc:date></item>" for i in items)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f'<channel rdf:about="https://pub{feed % 97}.example/"><title>Publisher {feed}</title>'
            f"<link>https://pub{feed % 97}.example/</link><description>Feed {feed}</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{body}</rdf:RDF>")


def main():
    global CHANGE
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--round", type=int, default=0)
    parser.add_argument("--change", type=float, default=0.1)
    args = parser.parse_args()
    CHANGE = args.change
    out = pathlib.Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for feed in range(args.feeds):
        rng = random.Random(feed)
        items = items_for(feed, args.items, args.round, rng)
        kind = ("rss", "atom", "rdf")[feed % 3]
        text = {"rss": rss2, "atom": atom, "rdf": rss1}[kind](feed, items)
        path = out / f"{feed}.xml"
        data = text.encode()
        if not path.exists() or hashlib.sha1(path.read_bytes()).digest() != hashlib.sha1(data).digest():
            path.write_bytes(data)
            written += 1
    print(f"farm: {args.feeds} feeds in {out}, round {args.round}: {written} written")


CHANGE = 0.1
if __name__ == "__main__":
    main()
