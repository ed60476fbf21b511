"""Cases: string and membership operators (Kusto string-operator docs, one row per behaviour)."""

from __future__ import annotations

from kqlfn_harness import op, tuple_of

S = "string"


def o(left, name, right, expected, label=""):
    right_pair = right if isinstance(right, tuple) and len(right) == 2 else (right, S)
    return op((left, S), name, right_pair, expected, label)


CASES = [
    # =~ / !~
    o("abc", "=~", "ABC", True),
    o("aBc", "!~", "xyz", True),
    o("abc", "=~", "abd", False),
    o(None, "=~", "", True, label="null =~ empty"),
    o(None, "!~", "x", True, label="null !~ x"),
    # contains
    o("FabriKam", "contains", "BRik", True),
    o("Fabrikam", "!contains", "xyz", True),
    o("FabriKam", "contains_cs", "Kam", True),
    o("FabriKam", "contains_cs", "kam", False),
    o("Fabrikam", "!contains_cs", "Kam", True),
    o(None, "contains", "a", False, label="null contains a"),
    o(None, "!contains", "a", True, label="null !contains a"),
    o("abc", "contains", "", True, label="contains empty"),
    o("a%b_c", "contains", "%b_", True, label="contains like-wildcards literally"),
    o("a.b", "contains", ".", True),
    # startswith / endswith
    o("Fabrikam", "startswith", "fab", True),
    o("Fabrikam", "!startswith", "kam", True),
    o("Fabrikam", "startswith_cs", "fab", False),
    o("Fabrikam", "startswith_cs", "Fab", True),
    o("Fabrikam", "!startswith_cs", "fab", True),
    o("Fabrikam", "endswith", "KAM", True),
    o("Fabrikam", "!endswith", "brik", True),
    o("Fabrikam", "endswith_cs", "Kam", False),
    o("Fabrikam", "endswith_cs", "kam", True),
    o("Fabrikam", "!endswith_cs", "brik", True),
    o(None, "startswith", "a", False, label="null startswith a"),
    o("a_b%", "endswith", "_b%", True, label="endswith like-wildcards literally"),
    # has: whole terms
    o("North America", "has", "america", True),
    o("North America", "!has", "amer", True),
    o("North America", "has_cs", "America", True),
    o("North America", "has_cs", "america", False),
    o("North America", "!has_cs", "amer", True),
    o("Kusto: ad67d136-c1db-4f9f", "has", "c1db", True),
    o("Kusto: ad67d136-c1db-4f9f", "has", "c1d", False),
    o("Kusto: ad67d136-c1db-4f9f", "has", "ad67d136-c1db", True, label="phrase across punctuation"),
    o("user@contoso.com", "has", "contoso.com", True),
    o("user@contoso.com", "has", "ntoso.com", False),
    o("user@contoso.com", "has", "@contoso.com", True, label="needle starting with punctuation"),
    o("user@contoso.com", "has", "user@", True, label="needle ending with punctuation"),
    o("a b", "has", "a", True, label="one-letter term"),
    o("ab", "has", "a", False, label="one letter inside a term"),
    o("snake_case", "has", "snake", True, label="underscore separates terms"),
    o("x1.y2", "has", "Y2", True),
    o("ÄrgerÜber", "has", "ärgerüber", True, label="unicode case folding"),
    o("Straße-Nord", "has", "straße", True, label="unicode term"),
    o("a.b(c)", "has", "b(c)", True, label="regex metacharacters escaped"),
    o("a.b(c)", "has", "a.b(c", True, label="unbalanced paren escaped"),
    o("axb", "has", "a.b", False, label="dot is literal"),
    o("a\\b", "has", "a\\b", True, label="backslash literal"),
    o("price $5", "has", "$5", True),
    o(None, "has", "x", False, label="null has x"),
    o(None, "!has", "x", True, label="null !has x"),
    o("IMAP4 legacy", "has", "imap4", True),
    # hasprefix / hassuffix
    o("North America", "hasprefix", "ame", True),
    o("North America", "hasprefix", "ica", False),
    o("North America", "!hasprefix", "ica", True),
    o("North America", "hasprefix_cs", "Ame", True),
    o("North America", "hasprefix_cs", "ame", False),
    o("North America", "hassuffix", "ICA", True),
    o("North America", "hassuffix", "ame", False),
    o("North America", "!hassuffix", "ame", True),
    o("North America", "hassuffix_cs", "ica", True),
    o("North America", "hassuffix_cs", "ICA", False),
    o("North America", "!hasprefix_cs", "ame", True),
    o("North America", "!hassuffix_cs", "ica", False),
    # matches regex
    o("abc123", "matches regex", "[0-9]+$", True),
    o("abc", "matches regex", "^b", False),
    o(None, "matches regex", "^$", True, label="null matches ^$"),
    # in / in~ / !in / !in~
    o("a", "in", tuple_of(("a", S), ("b", S)), True),
    o("A", "in", tuple_of(("a", S), ("b", S)), False, label="in is case-sensitive"),
    o("A", "in~", tuple_of(("a", S), ("b", S)), True),
    o("c", "!in", tuple_of(("a", S), ("b", S)), True),
    o("A", "!in~", tuple_of(("a", S), ("b", S)), False),
    o("A", "!in", tuple_of(("a", S), ("b", S)), True, label="!in case-sensitive"),
    o(None, "in", tuple_of(("", S)), True, label="null string in empty"),
    o(None, "!in", tuple_of(("a", S)), True, label="null !in a"),
    o("50126", "in", tuple_of((50126, "long"), (50053, "long")), True, label="string in numbers"),
    o("50057", "in", tuple_of((50126, "long"), (50053, "long")), False, label="string not in numbers"),
    o("b", "in", (["a", "b"], "dynamic"), True, label="in dynamic literal"),
    o("B", "in~", (["a", "b"], "dynamic"), True, label="in~ dynamic literal"),
    o("c", "!in", (["a", "b"], "dynamic"), True, label="!in dynamic literal"),
    op((5, "long"), "in", tuple_of((1, "long"), (5, "long")), True),
    op((5, "long"), "!in", tuple_of((1, "long"), (2, "long")), True),
    op((None, "long"), "in", tuple_of((1, "long")), False, label="null long in"),
    op((None, "long"), "!in", tuple_of((1, "long")), True, label="null long !in"),
    # has_any / has_all
    o("North America", "has_any", tuple_of(("america", S), ("europe", S)), True),
    o("North America", "has_any", tuple_of(("amer", S), ("europe", S)), False),
    o("North America", "has_all", tuple_of(("america", S), ("north", S)), True),
    o("North America", "has_all", tuple_of(("america", S), ("south", S)), False),
    o("imap client", "has_any", (["IMAP", "POP3"], "dynamic"), True, label="has_any dynamic"),
    o("smtp", "has_all", (["smtp"], "dynamic"), True, label="has_all dynamic"),
    o(None, "has_any", tuple_of(("a", S)), False, label="null has_any"),
]
