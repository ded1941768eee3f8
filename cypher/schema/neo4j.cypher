// The alma-graph schema on Neo4j 5.15+ (alma_graph/backends/neo4j.py says why it looks like
// this). Paste it into Neo4j Browser (multi-statement editor); after these statements the
// backend waits for the new indexes to come online (CALL db.awaitIndexes).
// Schema version 2, 384-d vectors. Generated from what the backend issues by
// `python -m alma_graph.cypher_files`: do not edit, regenerate.

CREATE CONSTRAINT alma_agent_name_unique IF NOT EXISTS FOR (n:Agent) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT alma_almagraphschema_key_unique IF NOT EXISTS FOR (n:AlmaGraphSchema) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT alma_antipattern_id_unique IF NOT EXISTS FOR (n:AntiPattern) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_apikey_id_unique IF NOT EXISTS FOR (n:ApiKey) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_concept_id_unique IF NOT EXISTS FOR (n:Concept) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_domainknowledge_id_unique IF NOT EXISTS FOR (n:DomainKnowledge) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_episode_id_unique IF NOT EXISTS FOR (n:Episode) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_heuristic_id_unique IF NOT EXISTS FOR (n:Heuristic) REQUIRE n.id IS UNIQUE;
CREATE INDEX alma_memory_id IF NOT EXISTS FOR (n:Memory) ON (n.id);
CREATE CONSTRAINT alma_outcome_id_unique IF NOT EXISTS FOR (n:Outcome) REQUIRE n.id IS UNIQUE;
CREATE INDEX alma_searchable_id IF NOT EXISTS FOR (n:Searchable) ON (n.id);
CREATE CONSTRAINT alma_session_id_unique IF NOT EXISTS FOR (n:Session) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_userpreference_id_unique IF NOT EXISTS FOR (n:UserPreference) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_webhook_id_unique IF NOT EXISTS FOR (n:Webhook) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT alma_webhookdelivery_id_unique IF NOT EXISTS FOR (n:WebhookDelivery) REQUIRE n.id IS UNIQUE;
CREATE VECTOR INDEX alma_episode_embedding IF NOT EXISTS FOR (n:Episode) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_episode_text IF NOT EXISTS FOR (n:Episode) ON EACH [n.text];
CREATE VECTOR INDEX alma_concept_embedding IF NOT EXISTS FOR (n:Concept) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE VECTOR INDEX alma_heuristic_embedding IF NOT EXISTS FOR (n:Heuristic) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_heuristic_text IF NOT EXISTS FOR (n:Heuristic) ON EACH [n.text];
CREATE VECTOR INDEX alma_outcome_embedding IF NOT EXISTS FOR (n:Outcome) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_outcome_text IF NOT EXISTS FOR (n:Outcome) ON EACH [n.text];
CREATE VECTOR INDEX alma_userpreference_embedding IF NOT EXISTS FOR (n:UserPreference) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_userpreference_text IF NOT EXISTS FOR (n:UserPreference) ON EACH [n.text];
CREATE VECTOR INDEX alma_domainknowledge_embedding IF NOT EXISTS FOR (n:DomainKnowledge) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_domainknowledge_text IF NOT EXISTS FOR (n:DomainKnowledge) ON EACH [n.text];
CREATE VECTOR INDEX alma_antipattern_embedding IF NOT EXISTS FOR (n:AntiPattern) ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, `vector.similarity_function`: 'cosine'}};
CREATE FULLTEXT INDEX alma_antipattern_text IF NOT EXISTS FOR (n:AntiPattern) ON EACH [n.text];
