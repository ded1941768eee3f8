// What two agents share: their valid memories that say the same thing (identical text), and
// those derived, directly or through other memories, from episodes with the same source_id.
// See ../shared.cypher for why these two, on the current schema.
// The Kuzu form of ../shared.cypher: "any memory" is the union of the memory tables.
//
// Parameters: $agent and $other, two agents' names (Kuzu takes parameters through its API; see
// ../../README.md).
MATCH (m:Heuristic:Outcome:UserPreference:DomainKnowledge:AntiPattern)
WHERE m.agent IN [$agent, $other] AND m.invalidated_at IS NULL
WITH m.text AS key,
     collect(DISTINCT CASE WHEN m.agent = $agent THEN m.text END) AS agent_memories,
     collect(DISTINCT CASE WHEN m.agent = $other THEN m.text END) AS other_memories
WHERE size(agent_memories) > 0 AND size(other_memories) > 0
RETURN 'same text' AS shared, key, agent_memories, other_memories
UNION ALL
MATCH (m:Heuristic:Outcome:UserPreference:DomainKnowledge:AntiPattern)-[:DERIVED_FROM*1..]->(e:Episode)
WHERE m.agent IN [$agent, $other] AND m.invalidated_at IS NULL AND e.source_id IS NOT NULL
WITH e.source_id AS key,
     collect(DISTINCT CASE WHEN m.agent = $agent THEN m.text END) AS agent_memories,
     collect(DISTINCT CASE WHEN m.agent = $other THEN m.text END) AS other_memories
WHERE size(agent_memories) > 0 AND size(other_memories) > 0
RETURN 'same source' AS shared, key, agent_memories, other_memories
