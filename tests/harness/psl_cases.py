"""Addresses whose registrable domain the Public Suffix List decides, with the known answers:
shared by the unit test of ``SuffixList.org_domain`` and the Spark/Python parity test."""

from __future__ import annotations

ORG_DOMAINS = [
    # plain and multi-label public suffixes
    ("ceo@mail.acme-corp.com", "acme-corp.com"),
    ("a@b.c.example.com", "example.com"),
    ("a@mail.acme.co.uk", "acme.co.uk"),
    ("a@shop.x.co.za", "x.co.za"),
    ("a@x.ne.jp", "x.ne.jp"),
    ("a@www.x.ne.jp", "x.ne.jp"),
    ("a@ne.jp", "ne.jp"),
    # private suffixes: anyone can register under them
    ("a@x.github.io", "x.github.io"),
    ("a@deep.x.github.io", "x.github.io"),
    ("a@github.io", "github.io"),
    ("a@bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
    # wildcard (*.ck, *.kawasaki.jp) and exception (!www.ck, !city.kawasaki.jp) rules
    ("a@b.a.ck", "b.a.ck"),
    ("a@c.b.a.ck", "b.a.ck"),
    ("a@a.ck", "a.ck"),
    ("a@www.ck", "www.ck"),
    ("a@mail.www.ck", "www.ck"),
    ("a@a.b.kawasaki.jp", "a.b.kawasaki.jp"),
    ("a@b.kawasaki.jp", "b.kawasaki.jp"),
    ("a@city.kawasaki.jp", "city.kawasaki.jp"),
    ("a@www.city.kawasaki.jp", "city.kawasaki.jp"),
    # IDN, in Unicode and in punycode (公司.cn = xn--55qx5d.cn)
    ("a@mail.例子.公司.cn", "例子.公司.cn"),
    ("a@mail.xn--fsqu00a.xn--55qx5d.cn", "xn--fsqu00a.xn--55qx5d.cn"),
    ("a@xn--bcher-kva.example.com", "example.com"),
    # case and a trailing dot
    ("CEO@Mail.ACME.Co.UK", "acme.co.uk"),
    ("a@mail.acme.com.", "acme.com"),
    # an unknown top-level domain: its last label is the suffix
    ("a@mail.acme.internal-tld", "acme.internal-tld"),
    # address literals stay whole
    ("a@192.0.2.1", "192.0.2.1"),
    ("a@[192.0.2.1]", "[192.0.2.1]"),
    ("a@[ipv6:2001:db8::1]", "[ipv6:2001:db8::1]"),
    # empty and malformed: the domain itself
    ("", ""),
    ("a@", ""),
    ("no-at-sign", "no-at-sign"),
    ("a@com", "com"),
    ("a@.com", ".com"),
    ("a@acme..com", "acme..com"),
    ("a@acme.com..", "acme.com."),
]
