// An agent's memories, newest first: type, text, confidence, and whether each is still valid
// (false: forgotten, or replaced by a newer version; see superseded.cypher).
// The Kuzu form of ../agent_memories.cypher: Kuzu has no multi-label nodes, so a memory's type
// is its table, label(m).
//
// Parameters: $agent, the agent's name (Kuzu takes parameters through its API; see ../../README.md).
// Times are epoch milliseconds.
MATCH (:Agent {name: $agent})-[:LEARNED]->(m)
RETURN label(m) AS type,
       m.text AS text,
       m.confidence AS confidence,
       m.invalidated_at IS NULL AS valid,
       m.created_at AS created_at,
       m.id AS id
ORDER BY created_at DESC, id
