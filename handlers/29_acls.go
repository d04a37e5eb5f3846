package handlers

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/acl"
	"samsa/controller"
	"samsa/protocol"
)

// DescribeAcls, CreateAcls and DeleteAcls v1-v3 (Kafka 4 dropped v0,
// KIP-896), as Kafka's AclApis answers them. Without an authorizer (authorizer.class.name unset) they
// answer SECURITY_DISABLED. The cluster permission they need (DESCRIBE,
// ALTER) is checked in authorize.go like every other API's.
func init() {
	register(1, 3, (*Handlers).describeACLs)
	register(1, 3, (*Handlers).createACLs)
	register(1, 3, (*Handlers).deleteACLs)
}

func (h *Handlers) describeACLs(_ context.Context, _ *protocol.Request, req *kmsg.DescribeACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if h.Authorizer == nil {
		resp.ErrorCode = kerr.SecurityDisabled.Code
		resp.ErrorMessage = kmsg.StringPtr("No Authorizer is configured on the broker")
		return resp, nil
	}
	f := acl.Filter{ResourceType: int8(req.ResourceType), ResourceName: req.ResourceName, PatternType: int8(req.ResourcePatternType),
		Principal: req.Principal, Host: req.Host, Operation: int8(req.Operation), Permission: int8(req.PermissionType)}
	if err := acl.ValidateFilter(f); err != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		return resp, nil
	}
	type key struct {
		rt   int8
		name string
		pt   int8
	}
	idx := map[key]int{}
	for _, a := range h.Authorizer.Describe(f) {
		k := key{a.ResourceType, a.ResourceName, a.PatternType}
		i, ok := idx[k]
		if !ok {
			r := kmsg.NewDescribeACLsResponseResource()
			r.ResourceType, r.ResourceName, r.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			resp.Resources = append(resp.Resources, r)
			i = len(resp.Resources) - 1
			idx[k] = i
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host, e.Operation, e.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, e)
	}
	return resp, nil
}

func (h *Handlers) createACLs(ctx context.Context, r *protocol.Request, req *kmsg.CreateACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	results := make([]kmsg.CreateACLsResponseResult, len(req.Creations))
	for i := range results {
		results[i] = kmsg.NewCreateACLsResponseResult()
	}
	resp.Results = results
	if h.Authorizer == nil {
		for i := range results {
			results[i].ErrorCode = kerr.SecurityDisabled.Code
			results[i].ErrorMessage = kmsg.StringPtr("No Authorizer is configured.")
		}
		return resp, nil
	}
	var valid []controller.ACL
	var validIdx []int
	for i, c := range req.Creations {
		pt := int8(c.ResourcePatternType)
		a := controller.ACL{ResourceType: int8(c.ResourceType), ResourceName: c.ResourceName, PatternType: pt,
			Principal: c.Principal, Host: c.Host, Operation: int8(c.Operation), Permission: int8(c.PermissionType)}
		if err := acl.ValidateNew(a); err != nil {
			results[i].ErrorCode = kerr.InvalidRequest.Code
			results[i].ErrorMessage = kmsg.StringPtr(err.Error())
			continue
		}
		valid = append(valid, a)
		validIdx = append(validIdx, i)
	}
	if len(valid) > 0 {
		if err := h.Authorizer.Create(ctx, valid); err != nil {
			for _, i := range validIdx {
				results[i].ErrorCode, results[i].ErrorMessage = errCode(err), errMessage(err)
			}
		} else {
			for _, a := range valid {
				r.Logger.Info("ACL created", "principal", r.Principal, "acl", describeACL(a))
			}
		}
	}
	return resp, nil
}

func (h *Handlers) deleteACLs(ctx context.Context, r *protocol.Request, req *kmsg.DeleteACLsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	results := make([]kmsg.DeleteACLsResponseResult, len(req.Filters))
	for i := range results {
		results[i] = kmsg.NewDeleteACLsResponseResult()
	}
	resp.Results = results
	if h.Authorizer == nil {
		for i := range results {
			results[i].ErrorCode = kerr.SecurityDisabled.Code
			results[i].ErrorMessage = kmsg.StringPtr("No Authorizer is configured.")
		}
		return resp, nil
	}
	var filters []acl.Filter
	var idx []int
	for i, f := range req.Filters {
		af := acl.Filter{ResourceType: int8(f.ResourceType), ResourceName: f.ResourceName, PatternType: int8(f.ResourcePatternType),
			Principal: f.Principal, Host: f.Host, Operation: int8(f.Operation), Permission: int8(f.PermissionType)}
		if err := acl.ValidateFilter(af); err != nil {
			results[i].ErrorCode = kerr.InvalidRequest.Code
			results[i].ErrorMessage = kmsg.StringPtr(err.Error())
			continue
		}
		filters = append(filters, af)
		idx = append(idx, i)
	}
	removed, err := h.Authorizer.Delete(ctx, filters)
	for k, i := range idx {
		if err != nil {
			results[i].ErrorCode, results[i].ErrorMessage = errCode(err), errMessage(err)
			continue
		}
		for _, a := range removed[k] {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName, m.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host, m.Operation, m.PermissionType = a.Principal, a.Host, kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			results[i].MatchingACLs = append(results[i].MatchingACLs, m)
			r.Logger.Info("ACL deleted", "principal", r.Principal, "acl", describeACL(a))
		}
	}
	return resp, nil
}

func describeACL(a controller.ACL) string {
	return kmsg.ACLPermissionType(a.Permission).String() + " " + a.Principal + " from " + a.Host + " " +
		kmsg.ACLOperation(a.Operation).String() + " on " + acl.ResourceTypeName(a.ResourceType) + ":" +
		kmsg.ACLResourcePatternType(a.PatternType).String() + ":" + a.ResourceName
}
