// Package acl is Samsa's authorizer: Kafka's ACL model (resource types,
// pattern types, operations, permission types, with Kafka's wire numbers)
// and the decisions of Kafka's StandardAuthorizer, turned on by
// authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
// (or kafka.security.authorizer.AclAuthorizer, which decides the same
// way), with super.users and allow.everyone.if.no.acl.found.
//
// # Decisions
//
// Authorize(principal, host, operation, resource type, name):
//
//  1. a principal listed in super.users ("User:admin;User:ops") is allowed;
//  2. the ACLs that match the resource are those of its type whose pattern
//     is LITERAL with the same name or the wildcard "*", or PREFIXED with a
//     prefix of the name;
//  3. among them, those for the principal or User:*, and for the host (the
//     client's IP) or "*", decide: a DENY for the operation or ALL denies,
//     whatever else allows; otherwise an ALLOW for the operation, for ALL,
//     or for an operation that implies it (READ, WRITE, DELETE, ALTER imply
//     DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
//  4. when no ACL matches the resource at all (step 2 found none, whoever
//     they are for) allow.everyone.if.no.acl.found decides (default: deny).
//
// AuthorizeAny is Kafka's authorizeByResourceType, used where Kafka asks
// "may this principal WRITE to some topic" (InitProducerId without a
// transactional id, besides IDEMPOTENT_WRITE on the cluster).
//
// Which operation each API needs, and how refusals are answered (per
// topic TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED; topics
// a client may not DESCRIBE left out of listings), is in handlers'
// authorize.go, following KafkaApis. An API it does not list (the
// inter-broker ones) needs CLUSTER_ACTION, else the connection is closed.
//
// # Storage
//
// ACLs are kept by the controller (controller/acls.go: Pebble keys
// acl/<uuid>, one synced batch per CreateAcls or DeleteAcls) behind the
// Store interface, and in memory here. CreateAcls validates as Kafka's
// AclApis and AclControlManager do (the cluster resource is named
// kafka-cluster, no empty names, LITERAL or PREFIXED patterns, a concrete
// operation and permission, a "Type:name" principal) and skips an ACL equal
// to an existing one. DeleteAcls removes what each filter matches
// (Kafka's AclBindingFilter.matches, MATCH included) and reports it per
// filter.
//
// # Locking
//
// mu (RWMutex) guards the in-memory ACL list: Authorize holds it shared
// for one scan; a change replaces the list after the store has written it.
// alterMu serializes Create and Delete, which read, decide and write.
// The decision is a linear scan of the ACLs (fine for the hundreds a
// cluster usually has; Kafka keeps them sorted for prefix search).
package acl
