// One memory's provenance chain: what it was derived from (episodes and other memories,
// transitively), the older versions it replaced, and the newer versions that replaced it.
// depth is the number of edges between the memory and that node (the shortest way there).
//
// Parameters: $id, the memory's id (alma-graph show/history print it; see agent_memories.cypher).
//   Neo4j Browser:     :param id => 'heur_...'
//   FalkorDB Browser:  put  CYPHER id='heur_...'  before the query
// Runs on Neo4j, Memgraph and FalkorDB; for Kuzu use kuzu/provenance.cypher.
MATCH p = (:Memory {id: $id})-[:DERIVED_FROM*1..]->(n)
RETURN 'derived from' AS relation, min(length(p)) AS depth,
       [l IN labels(n) WHERE NOT l IN ['Memory', 'Searchable']][0] AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
UNION ALL
MATCH p = (:Memory {id: $id})-[:SUPERSEDES*1..]->(n:Memory)
RETURN 'supersedes' AS relation, min(length(p)) AS depth,
       [l IN labels(n) WHERE NOT l IN ['Memory', 'Searchable']][0] AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
UNION ALL
MATCH p = (n:Memory)-[:SUPERSEDES*1..]->(:Memory {id: $id})
RETURN 'superseded by' AS relation, min(length(p)) AS depth,
       [l IN labels(n) WHERE NOT l IN ['Memory', 'Searchable']][0] AS type,
       n.id AS id, n.text AS text, n.invalidated_at IS NULL AS valid
