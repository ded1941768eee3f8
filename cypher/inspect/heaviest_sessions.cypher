// The heaviest sessions: most episodes first, with the agent and the time span of each.
//
// Parameters: $limit, how many sessions.
//   Neo4j Browser:     :param limit => 10
//   FalkorDB Browser:  put  CYPHER limit=10  before the query
// Runs unchanged on Neo4j, Memgraph, FalkorDB and Kuzu (no :Memory label involved).
// Times are epoch milliseconds; span_ms = last_at - first_at.
MATCH (a:Agent)-[:HAS_SESSION]->(s:Session)<-[:IN_SESSION]-(e:Episode)
WITH s, a, count(e) AS episodes, min(e.timestamp) AS first_at, max(e.timestamp) AS last_at
RETURN s.id AS session, a.name AS agent, episodes, first_at, last_at, last_at - first_at AS span_ms
ORDER BY episodes DESC, session
LIMIT $limit
