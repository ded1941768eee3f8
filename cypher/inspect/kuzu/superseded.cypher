// What an agent's memories said before they were updated: old text -> new text, and when.
// An update that changes what a memory says writes a new version that SUPERSEDES the old one
// (the old one keeps its text and is invalidated); reason is the edge's, e.g. 'update'.
// The Kuzu form of ../superseded.cypher: a memory's type is its table, label(new).
//
// Parameters: $agent, the agent's name (Kuzu takes parameters through its API; see ../../README.md).
// Times are epoch milliseconds.
MATCH (:Agent {name: $agent})-[:LEARNED]->(new)-[r:SUPERSEDES]->(old)
RETURN label(new) AS type,
       old.text AS old_text,
       new.text AS new_text,
       r.at AS superseded_at,
       r.reason AS reason,
       old.id AS old_id,
       new.id AS new_id
ORDER BY superseded_at DESC, new_id
