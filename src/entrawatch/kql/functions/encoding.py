"""Encodings and hashes: base64, URL encoding, SHA-256, MD5.

Decoding is lenient like Kusto: input that is not valid base64/UTF-8 gives null, not an error
(DuckDB ``try()``, Spark ``try_to_binary``). URL encoding is percent-encoding of UTF-8 with
``%20`` for spaces on both engines (Spark's form encoding ``+`` is rewritten).
"""

from __future__ import annotations

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import string_arg
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar


def _str(e) -> Typed:  # noqa: ANN001 - sqlglot expression
    return Typed(e, "string")


@scalar("base64_encode_tostring", "base64_encodestring")
def base64_encode_tostring(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("base64_encode_tostring", args, ctx, 1)
    text = string_arg(args[0], ctx)
    if ctx.dialect == "duckdb":
        return _str(q.fn("to_base64", q.fn("encode", text)))
    return _str(q.fn("base64", q.cast(text, "binary")))


@scalar("base64_decode_tostring", "base64_decodestring")
def base64_decode_tostring(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("base64_decode_tostring", args, ctx, 1)
    text = string_arg(args[0], ctx)
    if ctx.dialect == "duckdb":
        return _str(q.fn("try", q.fn("decode", q.fn("from_base64", text))))
    decoded = q.fn("try_to_binary", text, q.s("base64"))
    as_text = q.cast(decoded, "varchar")
    valid = q.fn("is_valid_utf8", decoded.copy())
    return _str(q.case((valid, as_text)))


@scalar("url_encode", "url_encode_component")
def url_encode(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("url_encode", args, ctx, 1)
    text = string_arg(args[0], ctx)
    if ctx.dialect == "duckdb":
        return _str(q.fn("url_encode", text))
    return _str(q.fn("replace", q.fn("url_encode", text), q.s("+"), q.s("%20")))


@scalar("url_decode")
def url_decode(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("url_decode", args, ctx, 1)
    text = string_arg(args[0], ctx)
    if ctx.dialect == "duckdb":
        return _str(q.fn("try", q.fn("url_decode", q.fn("replace", text, q.s("+"), q.s(" ")))))
    return _str(q.fn("try_url_decode", text))


@scalar("hash_sha256")
def hash_sha256(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("hash_sha256", args, ctx, 1)
    text = string_arg(args[0], ctx)
    return _str(q.fn("sha256", text) if ctx.dialect == "duckdb" else q.fn("sha2", text, q.n(256)))


@scalar("hash_md5")
def hash_md5(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("hash_md5", args, ctx, 1)
    return _str(q.fn("md5", string_arg(args[0], ctx)))


@scalar("hash_sha1")
def hash_sha1(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("hash_sha1", args, ctx, 1)
    return _str(q.fn("sha1", string_arg(args[0], ctx)))
