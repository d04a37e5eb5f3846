package logstore

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// kafkaError is a sentinel error that also unwraps to the Kafka error the
// handlers must send for it. errors.Is(err, ErrX) identifies the condition
// inside logstore and its callers; errors.As(err, **kerr.Error) yields the
// wire code, so a handler needs no mapping table.
type kafkaError struct {
	msg  string
	code *kerr.Error
}

func (e *kafkaError) Error() string { return e.msg }
func (e *kafkaError) Unwrap() error { return e.code }

// Sentinel errors. Returned errors wrap them with context (offsets, producer
// ids), so compare with errors.Is, never ==.
var (
	// ErrOffsetOutOfRange: a Read or DeleteRecordsBefore offset outside
	// [LogStartOffset, LogEndOffset]. Consumers react by resetting their
	// position (auto.offset.reset), so it must only be returned when the
	// offset is really gone or not yet written.
	ErrOffsetOutOfRange error = &kafkaError{"logstore: offset out of range", kerr.OffsetOutOfRange}

	// ErrOutOfOrderSequence: an idempotent batch whose sequence does not
	// follow the producer's last one (a gap or a reorder). Appending it
	// would lose or reorder records, so it is refused.
	ErrOutOfOrderSequence error = &kafkaError{"logstore: out of order sequence number", kerr.OutOfOrderSequenceNumber}

	// ErrInvalidProducerEpoch: a batch from an epoch older than the one
	// the partition has seen, i.e. a fenced (zombie) producer instance.
	ErrInvalidProducerEpoch error = &kafkaError{"logstore: invalid producer epoch", kerr.InvalidProducerEpoch}

	// ErrUnknownProducerID names Kafka's UNKNOWN_PRODUCER_ID. Append does
	// not return it: since KIP-360 (Kafka 2.5) a broker accepts any
	// sequence from a producer it has no state for (see producers.go); the
	// value exists so callers can still refer to the code.
	ErrUnknownProducerID error = &kafkaError{"logstore: unknown producer id", kerr.UnknownProducerID}

	// ErrInvalidTxnState: a non-transactional batch from a producer whose
	// transaction is open (Kafka's InvalidTxnStateException,
	// INVALID_TXN_STATE, 48; ProducerAppendInfo.appendDataBatch).
	ErrInvalidTxnState error = &kafkaError{"logstore: invalid transaction state", kerr.InvalidTxnState}

	// ErrCoordinatorFenced: a transaction marker with a coordinator epoch
	// older than the last one the partition saw for the producer, i.e.
	// from a zombie coordinator (Kafka's
	// TransactionCoordinatorFencedException,
	// TRANSACTION_COORDINATOR_FENCED, 52;
	// ProducerAppendInfo.checkCoordinatorEpoch).
	ErrCoordinatorFenced error = &kafkaError{"logstore: transaction coordinator fenced", kerr.TransactionCoordinatorFenced}

	// ErrCorruptBatch: bytes that are not a well-formed v2 record batch
	// (short, bad length, bad magic, bad CRC).
	ErrCorruptBatch error = &kafkaError{"logstore: corrupt record batch", kerr.CorruptMessage}

	// ErrPartitionClosed: the partition was deleted or the store closed
	// while the caller held it. NOT_LEADER_OR_FOLLOWER makes clients
	// refresh metadata and retry, which is right for both cases.
	ErrPartitionClosed error = &kafkaError{"logstore: partition closed", kerr.NotLeaderForPartition}

	// ErrStorage wraps I/O failures of segment files and the index so that
	// clients see KAFKA_STORAGE_ERROR (retriable) rather than
	// UNKNOWN_SERVER_ERROR.
	ErrStorage error = &kafkaError{"logstore: storage error", kerr.KafkaStorageError}
)
