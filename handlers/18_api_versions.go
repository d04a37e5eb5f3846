package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// ApiVersions v0-v4, as Kafka 4.1 advertises. A request at a newer version
// never reaches here with its body: the protocol layer answers it in v0 with
// UNSUPPORTED_VERSION using this same list (KIP-511).
func init() { register(0, 4, (*Handlers).apiVersions) }

// TransactionVersion is the transaction.version feature level Samsa
// supports and finalizes (Kafka 4.x's TransactionVersion.TV_2, KIP-890
// part 2).
const TransactionVersion = 2

func (h *Handlers) apiVersions(_ context.Context, r *protocol.Request, req *kmsg.ApiVersionsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, a := range supportedAPIs(h.Cluster != nil) {
		if interBrokerOnly(a.key) && h.Config.ZookeeperConnect == "" {
			// A single node (like a KRaft-mode Kafka broker) does not
			// advertise the ZooKeeper controller's requests
			// (samsa.controller.requests.enable serves them unadvertised).
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if req.Version >= 3 && h.Config.ZookeeperConnect != "" {
		// A ZooKeeper-mode Kafka 3.9 broker supports and finalizes no
		// feature (measured: both lists empty, epoch 0; its controller
		// writes /feature as {"features":{},...}), so a cluster of
		// them, or one being replaced by Samsa broker by broker (package
		// interop), runs transactions at transaction.version 0/1.
		// Advertising 2 here made clients (franz-go takes the highest
		// level any broker finalizes) skip AddPartitionsToTxn, and
		// Kafka 3.9 partition leaders then failed their transactional
		// produces (INVALID_TXN_STATE, TRANSACTION_ABORTABLE).
		resp.FinalizedFeaturesEpoch = 0
	} else if req.Version >= 3 {
		// Feature flags (KIP-584): transaction.version as Kafka 4.3.1
		// advertises it (measured): supported 0-2, finalized at 2, so
		// clients run KIP-890 part 2 (epoch bump per transaction,
		// implicit adds by Produce v12+ and TxnOffsetCommit v5+).
		// Clients take the finalized features only from an answer whose
		// epoch is above the last they saw (Java starts at -1); Samsa
		// has no metadata log whose offset could be that epoch, and its
		// features never change while it runs, so it is 0.
		// A supported range starting at 0 goes only to v4+: older
		// clients cannot parse it (KAFKA-17011), so Kafka leaves such
		// features out of their SupportedFeatures (measured).
		if req.Version >= 4 {
			sf := kmsg.NewApiVersionsResponseSupportedFeature()
			sf.Name, sf.MinVersion, sf.MaxVersion = "transaction.version", 0, TransactionVersion
			resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		}
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = "transaction.version", TransactionVersion, TransactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		resp.FinalizedFeaturesEpoch = 0
	}
	// v3+ carries the client's software name and version; Kafka rejects
	// ones that do not match its pattern with INVALID_REQUEST.
	if req.Version >= 3 && (!validSoftwareField(req.ClientSoftwareName) || !validSoftwareField(req.ClientSoftwareVersion)) {
		resp.ErrorCode = 42 // INVALID_REQUEST
	}
	return resp, nil
}

// validSoftwareField mirrors Kafka's check on client_software_name and
// client_software_version: non-empty, letters, digits, '.', '-', and it
// must start and end with a letter or digit.
func validSoftwareField(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	return alnum(s[0]) && alnum(s[len(s)-1])
}

// interBrokerOnly reports the APIs only a ZooKeeper-mode controller
// sends to brokers (LeaderAndIsr, StopReplica).
func interBrokerOnly(key int16) bool { return key == 4 || key == 5 }
