package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/protocol"
)

// DescribeCluster v0-v2.
func init() { register(0, 2, (*Handlers).describeCluster) }

// endpointTypeBroker is DescribeCluster's endpoint_type for brokers (2 asks
// for controllers, which a broker listener does not serve).
const endpointTypeBroker = 1

func (h *Handlers) describeCluster(_ context.Context, r *protocol.Request, req *kmsg.DescribeClusterRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointTypeBroker
	if req.Version >= 1 && req.EndpointType != endpointTypeBroker {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = kmsg.StringPtr("this listener serves broker endpoints only")
		return resp, nil
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOps
	}
	resp.ClusterID = h.Controller.ClusterID()
	resp.ControllerID = h.Controller.ControllerID()
	for _, b := range h.brokersFor(r.Listener) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, b.Host, b.Port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp, nil
}
