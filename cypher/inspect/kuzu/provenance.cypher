// One memory's provenance chain: what it was derived from (episodes and other memories,
// transitively), the older versions it replaced, and the newer versions that replaced it.
// depth is the number of edges between the memory and that node (the shortest way there).
// The Kuzu form of ../provenance.cypher: "any memory" is the union of the memory tables, and a
// node's type is its table, label(n). Kuzu follows a variable-length edge up to 30 steps.
//
// Parameters: $id, the memory's id (Kuzu takes parameters through its API; see ../../README.md).
MATCH p = (:Heuristic:Outcome:UserPreference:DomainKnowledge:AntiPattern {id: $id})-[:DERIVED_FROM*1..]->(n)
RETURN 'derived from' AS relation, min(length(p)) AS depth, label(n) AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
UNION ALL
MATCH p = (:Heuristic:Outcome:UserPreference:DomainKnowledge:AntiPattern {id: $id})-[:SUPERSEDES*1..]->(n)
RETURN 'supersedes' AS relation, min(length(p)) AS depth, label(n) AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
UNION ALL
MATCH p = (n)-[:SUPERSEDES*1..]->(:Heuristic:Outcome:UserPreference:DomainKnowledge:AntiPattern {id: $id})
RETURN 'superseded by' AS relation, min(length(p)) AS depth, label(n) AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
