// The alma-graph schema on FalkorDB (alma_graph/backends/falkordb.py says why it looks like
// this). FalkorDB runs one statement per query: paste them into FalkorDB Browser one at a time.
// Its uniqueness constraints are a Redis command, not Cypher: they are shown as comments where
// the backend sends them (through the falkordb client).
// Schema version 2, 384-d vectors. Generated from what the backend issues by
// `python -m alma_graph.cypher_files`: do not edit, regenerate.

CREATE INDEX FOR (n:Agent) ON (n.name);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Agent PROPERTIES 1 name
CREATE INDEX FOR (n:AlmaGraphSchema) ON (n.key);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE AlmaGraphSchema PROPERTIES 1 key
CREATE INDEX FOR (n:AntiPattern) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE AntiPattern PROPERTIES 1 id
CREATE INDEX FOR (n:ApiKey) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE ApiKey PROPERTIES 1 id
CREATE INDEX FOR (n:Concept) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Concept PROPERTIES 1 id
CREATE INDEX FOR (n:DomainKnowledge) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE DomainKnowledge PROPERTIES 1 id
CREATE INDEX FOR (n:Episode) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Episode PROPERTIES 1 id
CREATE INDEX FOR (n:Heuristic) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Heuristic PROPERTIES 1 id
CREATE INDEX FOR (n:Memory) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Memory PROPERTIES 1 id
CREATE INDEX FOR (n:Outcome) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Outcome PROPERTIES 1 id
CREATE INDEX FOR (n:Searchable) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Searchable PROPERTIES 1 id
CREATE INDEX FOR (n:Session) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Session PROPERTIES 1 id
CREATE INDEX FOR (n:UserPreference) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE UserPreference PROPERTIES 1 id
CREATE INDEX FOR (n:Webhook) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Webhook PROPERTIES 1 id
CREATE INDEX FOR (n:WebhookDelivery) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE WebhookDelivery PROPERTIES 1 id
CREATE INDEX FOR (n:EpisodeDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE EpisodeDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:EpisodeDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('EpisodeDoc', 'text');
CREATE INDEX FOR (n:ConceptDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE ConceptDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:ConceptDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CREATE INDEX FOR (n:HeuristicDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE HeuristicDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:HeuristicDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('HeuristicDoc', 'text');
CREATE INDEX FOR (n:OutcomeDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE OutcomeDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:OutcomeDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('OutcomeDoc', 'text');
CREATE INDEX FOR (n:UserPreferenceDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE UserPreferenceDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:UserPreferenceDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('UserPreferenceDoc', 'text');
CREATE INDEX FOR (n:DomainKnowledgeDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE DomainKnowledgeDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:DomainKnowledgeDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('DomainKnowledgeDoc', 'text');
CREATE INDEX FOR (n:AntiPatternDoc) ON (n.id);
// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE AntiPatternDoc PROPERTIES 1 id
CREATE VECTOR INDEX FOR (v:AntiPatternDoc) ON (v.embedding) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 200};
CALL db.idx.fulltext.createNodeIndex('AntiPatternDoc', 'text');
