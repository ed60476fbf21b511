"""Drop the columns no later step reads, once the whole query is lowered.

Why: every pipe step wraps the one before it, and a table scan projects every column of the table
(~100 for SigninLogs, strings wrapped in ``COALESCE(col, '')``). The engines' optimisers do remove
unused columns, but only after parsing, binding and planning all of them: on DuckDB that cost was
several milliseconds per scan, as much as running a filtered aggregate over a million rows, and it
was most of why compiled rules lagged hand-written SQL (``benchmarks/kql.py``). This pass walks the
final sqlglot tree from the outermost SELECT down and removes each projection its reader does not
reference, so the SQL the engine sees is as narrow as a hand-written query.

It never changes results. It only ever over-estimates what is needed: a name referenced anywhere
in a SELECT (qualified or not, in any clause or nested sub-query) counts as needed from every
source it could come from. A projection is kept when it may change the row count or the row set
(``DISTINCT``, a set-returning function such as ``unnest``/``explode``, an aggregate query without
``GROUP BY``), or when the SELECT uses ordinals (``GROUP BY 1``). ``UNION ALL`` legs are pruned by
position, identically in every leg. A ``WITH`` body keeps what any of its references needs.
It assumes what the lowering guarantees: a projection never reads another projection of the same
SELECT by its alias (DuckDB's lateral aliases; ``extend x = 1, y = x + 1`` is inlined instead).
"""

from __future__ import annotations

from sqlglot import exp

#: Set-returning functions spelled as plain calls: dropping one would change the row count.
_GENERATORS = frozenset({"unnest", "explode", "explode_outer", "posexplode", "posexplode_outer", "inline",
                         "inline_outer", "stack", "json_each", "variant_explode", "variant_explode_outer"})

#: ``None`` means "every column" (the query result, a ``SELECT *`` reader, an unknown reader).
Needed = set[str] | None


def prune_unused_columns(query: exp.Query) -> exp.Query:
    """Remove unread projections from every sub-query of ``query`` (in place; returns it)."""
    ctes: dict[str, Needed] = {}
    with_ = query.args.get("with_") or query.args.get("with")
    bodies = list(with_.expressions) if with_ is not None else []
    for cte in bodies:
        ctes[cte.alias_or_name] = set()
    _prune(query, None, ctes)
    for cte in reversed(bodies):  # a CTE reads only earlier ones, so its readers are all seen by now
        _prune(cte.this, ctes[cte.alias_or_name], ctes)
    return query


def _prune(query: exp.Expression, needed: Needed, ctes: dict[str, Needed]) -> None:
    if isinstance(query, exp.Subquery):
        _prune(query.this, needed, ctes)
    elif isinstance(query, exp.Select):
        _prune_select(query, needed, ctes)
    elif isinstance(query, exp.Union) and not query.args.get("distinct"):
        _prune_union_all(query, needed, ctes)
    elif isinstance(query, exp.SetOperation):
        _prune(query.this, None, ctes)
        _prune(query.expression, None, ctes)


def _prune_union_all(union: exp.Union, needed: Needed, ctes: dict[str, Needed]) -> None:
    legs = _union_legs(union)
    selects = [leg for leg in legs if isinstance(leg, exp.Select)]
    if union.args.get("order") is not None:
        needed = None  # ORDER BY on the union reads the first leg's names
    if any(_is_star(p) for select in selects for p in select.expressions):
        needed = None  # positions are unknown behind a star
    if needed is not None and len(selects) == len(legs):
        width = len(selects[0].expressions)
        if all(len(s.expressions) == width and _droppable(s) for s in selects):
            names = [p.alias_or_name for p in selects[0].expressions]
            keep = [i for i in range(width)
                    if names[i] in needed or any(not _may_drop(s.expressions[i]) for s in selects)] or [0]
            if all(_keeps_rows(s, [s.expressions[i] for i in keep]) for s in selects):
                for select in selects:
                    select.set("expressions", [select.expressions[i] for i in keep])
    for leg in legs:
        # each leg keeps its (already position-pruned) outputs and passes its own needs down
        own = {p.alias_or_name for p in leg.expressions} if isinstance(leg, exp.Select) and needed is not None else None
        _prune(leg, own, ctes)


def _union_legs(union: exp.Union) -> list[exp.Expression]:
    """The legs of a chain of ``UNION ALL``, left to right. Iterative: a ``datatable`` of a few
    thousand rows lowers to a UNION ALL chain that deep, beyond Python's recursion limit."""
    legs: list[exp.Expression] = []
    stack: list[exp.Expression] = [union]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Union) and not node.args.get("distinct"):
            stack += [node.expression, node.this]  # popped left first
        else:
            legs.append(node)
    return legs


def _prune_select(select: exp.Select, needed: Needed, ctes: dict[str, Needed]) -> None:
    star = any(_is_star(p) for p in select.expressions)
    if needed is not None and not star and _droppable(select):
        protected = needed | _clause_names(select)
        kept = [p for p in select.expressions if p.alias_or_name in protected or not _may_drop(p)]
        kept = kept or select.expressions[:1]
        if _keeps_rows(select, kept):
            select.set("expressions", kept)
    refs = _referenced(select, ctes)
    for source in _sources(select):
        if star:
            source_needed: Needed = None if needed is None else needed | refs | _star_names(select)
        else:
            source_needed = set(refs)
        if isinstance(source, exp.Table):
            _need_cte(source, source_needed, ctes)
        else:
            _prune(source, source_needed, ctes)


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or isinstance(projection, exp.Column) and isinstance(
        projection.this, exp.Star)


def _droppable(select: exp.Select) -> bool:
    """Whether removing a projection can leave the rows unchanged (no DISTINCT, no ordinals)."""
    if select.args.get("distinct"):
        return False
    for clause in ("group", "order"):
        node = select.args.get(clause)
        if node is not None and any(isinstance(e, exp.Literal) or isinstance(e.this, exp.Literal)
                                    for e in node.expressions):
            return False  # ordinals would shift
    return True


def _keeps_rows(select: exp.Select, kept: list[exp.Expression]) -> bool:
    """False when dropping would turn an aggregate without GROUP BY (one row) into one row per
    input row: that happens only if every kept projection is a constant."""
    if len(kept) == len(select.expressions) or select.args.get("group") is not None:
        return True
    return any(_reads_rows(p, select) for p in kept)


def _reads_rows(projection: exp.Expression, select: exp.Select) -> bool:
    for node in projection.find_all(exp.Column, exp.AggFunc, exp.Star):
        if node.find_ancestor(exp.Query) is select:
            return True
    return False


def _may_drop(projection: exp.Expression) -> bool:
    for node in projection.walk():
        if isinstance(node, exp.UDTF):
            return False
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in _GENERATORS:
            return False
    return True


def _clause_names(select: exp.Select) -> set[str]:
    """Names read by clauses that may refer to this SELECT's own output aliases."""
    names: set[str] = set()
    for clause in ("group", "having", "qualify", "order"):
        node = select.args.get(clause)
        if node is not None:
            names |= _names_in(node)
    return names


def _sources(select: exp.Select) -> list[exp.Expression]:
    """The derived tables and tables this SELECT reads (pruned as readers of ``_referenced``)."""
    from_ = select.args.get("from_") or select.args.get("from")
    items = [from_.this] if from_ is not None else []
    items += [join.this for join in select.args.get("joins") or []]
    return [item for item in items if isinstance(item, (exp.Subquery, exp.Table))]


def _referenced(select: exp.Select, ctes: dict[str, Needed]) -> set[str]:
    """Every name this SELECT reads outside its derived-table sources (pruned on their own).

    Sub-queries inside expressions are pruned here (their outputs are all read) and their names
    count too, in case they are correlated with this SELECT's sources.
    """
    names: set[str] = set()
    nodes: list[exp.Expression] = []
    for key, value in select.args.items():
        if key in ("from", "from_", "with", "with_", "joins") or value is None:
            continue
        nodes += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, exp.Expression)]
    for join in select.args.get("joins") or []:
        for key, value in join.args.items():
            for node in (value if isinstance(value, list) else [value]) if key != "this" else []:
                if isinstance(node, exp.Expression):  # ON, and USING's bare identifiers
                    nodes.append(node)
                    names |= {i.this for i in node.find_all(exp.Identifier)}
        if not isinstance(join.this, (exp.Subquery, exp.Table)):
            nodes.append(join.this)  # a table function or LATERAL may read the other sources
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None and not isinstance(from_.this, (exp.Subquery, exp.Table)):
        nodes.append(from_.this)
    for node in nodes:
        names |= _names_in(node)
        for nested in _outermost_queries(node):
            _prune(nested, None, ctes)
    return names


def _outermost_queries(node: exp.Expression) -> list[exp.Query]:
    found: list[exp.Query] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Query):
            found.append(current)
            continue
        stack.extend(child for child in current.iter_expressions())
    return found


def _names_in(node: exp.Expression) -> set[str]:
    names: set[str] = set()
    for column in node.find_all(exp.Column):
        for part in ("this", "table", "db", "catalog"):
            identifier = column.args.get(part)
            if isinstance(identifier, exp.Identifier):
                names.add(identifier.this)
    return names


def _star_names(select: exp.Select) -> set[str]:
    """Columns a ``* EXCLUDE/REPLACE/RENAME (...)`` names: they must still exist in the source."""
    names: set[str] = set()
    for projection in select.expressions:
        for star in projection.find_all(exp.Star):
            for value in star.args.values():
                for node in value if isinstance(value, list) else [value]:
                    if isinstance(node, exp.Expression):
                        names |= {i.this for i in node.find_all(exp.Identifier)}
    return names


def _need_cte(table: exp.Table, needed: Needed, ctes: dict[str, Needed]) -> None:
    if table.args.get("db") is not None or table.name not in ctes:
        return
    current = ctes[table.name]
    ctes[table.name] = None if current is None or needed is None else current | needed
