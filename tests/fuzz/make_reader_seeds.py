#!/usr/bin/env python3
"""Writes the hand-made seed corpus of reader_fuzz.cpp into tests/fuzz/corpus/reader/ (or argv[1]).

Each seed is a small review file aimed at one path of src/data/reader.cpp or src/data/pyliteral.cpp:
the four formats, gzip, and the ways lines go wrong. The files are committed; this script says how
they were made and remakes them byte for byte (gzip with mtime 0)."""
import gzip
import os
import sys

J = '{"reviewerID": "%s", "asin": "%s", "overall": %s, "reviewText": "%s", "summary": "%s", "unixReviewTime": %s}'


def j(user, item, rating, text="fine", summary="ok", time=1400000000):
    return (J % (user, item, rating, text, summary, time)).encode()


def lines(*rows):
    return b"\n".join(rows) + b"\n"


P = ("{'reviewerID': 'A1', 'asin': 'B1', 'helpful': (0, 0), 'reviewText': \"it's \\\"fine\\\"\", "
     "'overall': 4.0, 'summary': u'caf\\xe9', 'unixReviewTime': 1300000000, 'verified': True, "
     "'vote': None, 'style': {'Size:': ' L', 'n': [1, {'a': False}, -2.5e3]},}").encode()

SEEDS = {
    # JSON lines (Amazon 2014 and 2018 field names)
    "json_2014": lines(j("U1", "I1", "5.0"), j("U2", "I1", "3.0", text=""), j("U1", "I2", "1")),
    "json_2018": lines(b'{"overall": 4.0, "verified": true, "reviewTime": "01 2, 2018", '
                       b'"reviewerID": "A9", "asin": "B7", "style": {"Color:": " Red"}, '
                       b'"reviewerName": "x", "reviewText": "nice", "summary": "Four", '
                       b'"unixReviewTime": 1514851200, "vote": "2", "image": ["u"]}'),
    "json_aliases": lines(b'{"user_id": "u", "item_id": "i", "rating": "4", "text": "t", "title": "s", '
                          b'"timestamp": 1500000000000}'),
    "json_missing_fields": lines(j("U1", "I1", "4"), b'{"asin": "I1", "overall": 4}',
                                 b'{"reviewerID": "U", "overall": 4}', b'{"reviewerID": "U", "asin": "I"}'),
    "json_bad_ratings": lines(j("U1", "I1", "0"), j("U1", "I2", "6"), j("U1", "I3", '"four"'),
                              j("U1", "I4", "null"), j("U1", "I5", "true"), j("U1", "I6", "1e400"),
                              j("U1", "I7", '" 2.5 "'), j("U1", "I8", "[5]")),
    "json_bad_ids": lines(j("", "I1", "4"), b'{"reviewerID": 7, "asin": 8.5, "overall": 2}',
                          b'{"reviewerID": {"a": 1}, "asin": "I", "overall": 2}',
                          b'{"reviewerID": "  ", "asin": "I", "overall": 2}'),
    "json_malformed": lines(j("U1", "I1", "4"), b'{"reviewerID": "U2", "asin": ', b"[1, 2, 3]",
                            b'{"reviewerID": "U3"} trailing', b"{'reviewerID': 'U4'}", b"null"),
    "json_escapes": lines(j("U1", "I1", "4", text="caf\\u00e9 \\ud83d\\ude00 tab\\t \\\"q\\\""),
                          j("U1", "I2", "4", text="lone \\ud800"), j("U\\u0000", "I3", "4")),
    "json_duplicates": lines(j("U1", "I1", "2", time=2), j("U1", "I1", "4", time=1),
                             j("U1", "I1", "5", time=2), j("U2", "I1", "3", text="same"),
                             j("U2", "I2", "3", text="same"), j("U2", "I3", "3", text="")),
    "json_crlf_bom_blank": b"\xef\xbb\xbf" + j("U1", "I1", "4") + b"\r\n\r\n   \n" + j("U2", "I1", "2") + b"\r\n",
    "json_no_final_newline": j("U1", "I1", "4") + b"\n" + j("U2", "I2", "5"),
    "json_invalid_utf8": lines(j("U1", "I1", "4", text="bad XX bytes").replace(b"XX", b"\xff\xfe"),
                               b'{"reviewerID": "U\xc3", "asin": "I2", "overall": 3}',
                               b'{"reviewerID": "U3", "asin": "I3", "overall": 3, "x": "\xed\xa0\x80"}'),
    "json_long_line": lines(j("U1", "I1", "4", text="w" * 300), j("U2", "I2", "3")),
    "json_deep": lines(b'{"reviewerID": "U1", "asin": "I1", "overall": 4, "style": ' + b"[" * 40 + b"]" * 40 + b"}"),
    "json_numbers": lines(b'{"reviewerID": 12345678901234567890, "asin": -0, "overall": 4.999999999, '
                          b'"unixReviewTime": -5}', b'{"reviewerID": 1e5, "asin": 0.1, "overall": 1E0, '
                          b'"unixReviewTime": 1.5e300}'),
    # Python-literal lines (the full 2014 dumps)
    "py_2014": lines(P, b"{'reviewerID': 'C', 'asin': 'X2', 'reviewText': 'bytes caf\\xc3\\xa9', "
                        b"'overall': 3, 'summary': 'Python 2 str'}"),
    "py_escapes": lines(b"{'reviewerID': 'E', 'asin': 'X4', 'reviewText': 'emoji \\ud83d\\ude00 \\U0001F600 "
                        b"\\N{BULLET} \\a\\b\\f\\v\\0\\777 \\\n', 'overall': 1.0}",
                        b"{'reviewerID': 'F', 'asin': 'X5', 'reviewText': u'lone \\udc00 \\xff', 'overall': 2}",
                        b"{'reviewerID': 'G', 'asin': 'X6', 'reviewText': b'raw \\xff', 'overall': 2}"),
    "py_malformed": lines(b"{'reviewerID': 'A', 'asin': 'B', 'overall': 5.0", b"{'reviewerID': 'A' 'asin': 'B'}",
                          b"{'reviewerID': 'unterminated, 'overall': 1}", b"{'a': 1} extra",
                          b"{'reviewerID': 'A', 'asin': 'B', 'overall': 5.0, 'x': \\x}", b"{1: 2}",
                          b"{'reviewerID': 'A', 'asin': 'B', 'overall': 4, 'z': [1, (2,), {}, ()]}"),
    "py_constants": lines(b"{'reviewerID': 'A', 'asin': 'B', 'overall': 4, 'a': True, 'b': False, "
                          b"'c': None, 'd': -1.5e-3, 'e': 1L, 'f': 0x1F, 'g': inf, 'h': nan}",
                          b"{'reviewerID': None, 'asin': 'B', 'overall': 4}",
                          b"{'reviewerID': 'A', 'asin': 'B', 'overall': '4.0'}"),
    "py_triple_quotes": lines(b"{'reviewerID': 'A', 'asin': 'B', 'overall': 4, 'reviewText': '''x'''}",
                              b"{\"reviewerID\": 'A', 'asin': \"B\", 'overall': 4, 'reviewText': \"it's\"}"),
    "py_deep": lines(b"{'reviewerID': 'A', 'asin': 'B', 'overall': 4, 's': " + b"[" * 200 + b"]" * 200 + b"}"),
    # TSV and CSV with a header
    "tsv_basic": b"user\titem\trating\ttext\ttime\nu1\ti1\t5\tgood \"quoted\" text\t1500000000\n"
                 b"u2\ti1\t2\tshort\nu3\ti2\tx\tbad rating\t1\n\t\t\t\t\n",
    "csv_basic": b"reviewerID,asin,stars,text,title,unixReviewTime\nc1,p1,5,\"Good, really good\",Nice,1500000000\n"
                 b"c2,p1,\"4\",\"He said \"\"wow\"\" twice\",,1500000001\nc3,p2,3,\"Line one\nLine two\",Multi,1500000002\n",
    "csv_unclosed": b"user,item,rating,text\nu1,i1,4,\"never closed\nu2,i2,3,fine\n",
    "csv_bad_quotes": b"user,item,rating,text\nu1,i1,4,ab\"cd\nu2,i2,3,\"x\"y\nu3,i3,2,\"ok\"\n",
    "csv_missing_column": b"user,item,text\nu1,i1,hello\n",
    "csv_header_only": b"user,item,rating,review\n",
    "csv_wide": b"user,item,rating,summary\nu1,i1,4,a,b,c\nu2,i2\n\"u3\",\"i3\",\"5\",\"\"\n",
    # Neither format, and empty
    "unknown_format": b"just some words\nand more\n",
    "empty": b"",
    "blank_only": b"\n  \n\t\n",
    # gzip: whole, truncated, and with junk after the stream
    "gzip_json": gzip.compress(lines(j("U1", "I1", "4"), j("U2", "I2", "5")), mtime=0),
    "gzip_truncated": gzip.compress(lines(*[j("U%d" % i, "I1", "4") for i in range(30)]), mtime=0)[:-40],
    "gzip_trailing_junk": gzip.compress(lines(j("U1", "I1", "4")), mtime=0) + b"garbage",
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "reader")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
