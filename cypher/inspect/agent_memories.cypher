// An agent's memories, newest first: type, text, confidence, and whether each is still valid
// (false: forgotten, or replaced by a newer version; see superseded.cypher).
//
// Parameters: $agent, the agent's name.
//   Neo4j Browser:     :param agent => 'coder'
//   FalkorDB Browser:  put  CYPHER agent='coder'  before the query
// Runs on Neo4j, Memgraph and FalkorDB, where every memory also carries the :Memory label; for
// Kuzu use kuzu/agent_memories.cypher. Times are epoch milliseconds.
MATCH (:Agent {name: $agent})-[:LEARNED]->(m:Memory)
RETURN [l IN labels(m) WHERE NOT l IN ['Memory', 'Searchable']][0] AS type,
       m.text AS text,
       m.confidence AS confidence,
       m.invalidated_at IS NULL AS valid,
       m.created_at AS created_at,
       m.id AS id
ORDER BY created_at DESC, id
