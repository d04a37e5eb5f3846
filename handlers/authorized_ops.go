package handlers

// Authorized operations (KIP-430) are bitfields with bit n set for
// AclOperation code n (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7,
// DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
// IDEMPOTENT_WRITE 12). Without an authorizer Kafka answers every
// operation a resource type supports; these are its values, measured
// against Kafka 4.3.1 by the conformance suite (TestMetadata,
// TestDescribeCluster, TestGroupLifecycle). The security issue replaces
// them with what the authorizer allows the caller.
const (
	// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS.
	topicAuthorizedOps int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS, IDEMPOTENT_WRITE.
	clusterAuthorizedOps int32 = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
	// READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
	groupAuthorizedOps int32 = 1<<3 | 1<<6 | 1<<8 | 1<<10 | 1<<11
)
