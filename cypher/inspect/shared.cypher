// What two agents share: their valid memories that say the same thing (identical text), and
// those derived, directly or through other memories, from the same source: episodes with the
// same source_id (the id a message, ticket or document has in your system) that both recorded.
// Provenance stays inside one agent for now (derived_from refuses another agent's episodes, a
// session belongs to one agent), so a common source_id is how two agents meet in the graph;
// explicit sharing edges come later.
//
// Parameters: $agent and $other, two agents' names.
//   Neo4j Browser:     :param agent => 'coder'
//                      :param other => 'reviewer'
//   FalkorDB Browser:  put  CYPHER agent='coder' other='reviewer'  before the query
// Runs on Neo4j, Memgraph and FalkorDB; for Kuzu use kuzu/shared.cypher.
MATCH (m:Memory)
WHERE m.agent IN [$agent, $other] AND m.invalidated_at IS NULL
WITH m.text AS key,
     collect(DISTINCT CASE WHEN m.agent = $agent THEN m.text END) AS agent_memories,
     collect(DISTINCT CASE WHEN m.agent = $other THEN m.text END) AS other_memories
WHERE size(agent_memories) > 0 AND size(other_memories) > 0
RETURN 'same text' AS shared, key, agent_memories, other_memories
UNION ALL
MATCH (m:Memory)-[:DERIVED_FROM*1..]->(e:Episode)
WHERE m.agent IN [$agent, $other] AND m.invalidated_at IS NULL AND e.source_id IS NOT NULL
WITH e.source_id AS key,
     collect(DISTINCT CASE WHEN m.agent = $agent THEN m.text END) AS agent_memories,
     collect(DISTINCT CASE WHEN m.agent = $other THEN m.text END) AS other_memories
WHERE size(agent_memories) > 0 AND size(other_memories) > 0
RETURN 'same source' AS shared, key, agent_memories, other_memories
