// What an agent's memories said before they were updated: old text -> new text, and when.
// An update that changes what a memory says writes a new version that SUPERSEDES the old one
// (the old one keeps its text and is invalidated); reason is the edge's, e.g. 'update'.
//
// Parameters: $agent, the agent's name.
//   Neo4j Browser:     :param agent => 'coder'
//   FalkorDB Browser:  put  CYPHER agent='coder'  before the query
// Runs on Neo4j, Memgraph and FalkorDB; for Kuzu use kuzu/superseded.cypher.
// Times are epoch milliseconds.
MATCH (:Agent {name: $agent})-[:LEARNED]->(new:Memory)-[r:SUPERSEDES]->(old:Memory)
RETURN [l IN labels(new) WHERE NOT l IN ['Memory', 'Searchable']][0] AS type,
       old.text AS old_text,
       new.text AS new_text,
       r.at AS superseded_at,
       r.reason AS reason,
       old.id AS old_id,
       new.id AS new_id
ORDER BY superseded_at DESC, new_id
