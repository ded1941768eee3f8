// The concepts (content words) an agent's memories and episodes mention most, with how many of
// its items mention each: what the agent's memory is about, and the words retrieval matches a
// question's meaning against (see alma_graph/concepts.py).
//
// Parameters: $agent, the agent's name; $limit, how many concepts.
//   Neo4j Browser:     :param agent => 'coder'   and   :param limit => 25
//   FalkorDB Browser:  put  CYPHER agent='coder' limit=25  before the query
// Runs unchanged on Neo4j, Memgraph, FalkorDB and Kuzu.
MATCH (n)-[:MENTIONS]->(c:Concept)
WHERE n.agent = $agent
RETURN c.id AS concept, count(n) AS items
ORDER BY items DESC, concept
LIMIT $limit
