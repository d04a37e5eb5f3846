package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"samsa/controller"
	"samsa/protocol"
)

// DescribeUserScramCredentials v0 and AlterUserScramCredentials v0
// (KIP-554), as Kafka 4's ScramImage and ScramControlManager answer them.
func init() {
	register(0, 0, (*Handlers).describeUserScramCredentials)
	register(0, 0, (*Handlers).alterUserScramCredentials)
}

// scramStore is the part of the controller that keeps SCRAM credentials;
// controller.Single and controller.ZK implement it.
type scramStore interface {
	ScramUsers() map[string]map[controller.ScramMechanism]int32
	AlterScramCredentials(ctx context.Context, upserts []controller.ScramUpsert, deletes []controller.ScramDelete) error
}

// maxScramIterations is Kafka's ScramControlManager.MAX_ITERATIONS.
const maxScramIterations = 16384

func (h *Handlers) describeUserScramCredentials(_ context.Context, _ *protocol.Request, req *kmsg.DescribeUserSCRAMCredentialsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	store, ok := h.Controller.(scramStore)
	if !ok {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		return resp, nil
	}
	all := store.ScramUsers()
	var users []string
	dup := map[string]bool{}
	if len(req.Users) == 0 {
		for u := range all {
			users = append(users, u)
		}
		sort.Strings(users)
	} else {
		seen := map[string]bool{}
		for _, u := range req.Users {
			if seen[u.Name] {
				dup[u.Name] = true
				continue
			}
			seen[u.Name] = true
			users = append(users, u.Name)
		}
	}
	for _, u := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		switch mechs, ok := all[u]; {
		case dup[u]:
			r.ErrorCode = kerr.DuplicateResource.Code
			r.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + u)
		case !ok:
			r.ErrorCode = kerr.ResourceNotFound.Code
			r.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + u)
		default:
			for _, m := range []controller.ScramMechanism{controller.ScramSHA256, controller.ScramSHA512} {
				if it, ok := mechs[m]; ok {
					ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
					ci.Mechanism, ci.Iterations = int8(m), it
					r.CredentialInfos = append(r.CredentialInfos, ci)
				}
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp, nil
}

func (h *Handlers) alterUserScramCredentials(ctx context.Context, r *protocol.Request, req *kmsg.AlterUserSCRAMCredentialsRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	if h.notController() {
		// Kafka 3.9's KafkaApis in ZooKeeper mode: only the active
		// controller alters credentials; the request's error response
		// names every user once, sorted.
		users := map[string]bool{}
		for _, d := range req.Deletions {
			users[d.Name] = true
		}
		for _, u := range req.Upsertions {
			users[u.Name] = true
		}
		names := make([]string, 0, len(users))
		for u := range users {
			names = append(names, u)
		}
		sort.Strings(names)
		for _, u := range names {
			res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			res.User, res.ErrorCode = u, kerr.NotController.Code
			res.ErrorMessage = kmsg.StringPtr("This is not the correct controller for this cluster.")
			resp.Results = append(resp.Results, res)
		}
		return resp, nil
	}
	store, ok := h.Controller.(scramStore)
	type failure struct {
		code int16
		msg  string
	}
	failed := map[string]failure{}
	var failOrder []string
	fail := func(user string, code int16, msg string) {
		if _, ok := failed[user]; !ok {
			failOrder = append(failOrder, user)
		}
		failed[user] = failure{code, msg}
	}
	existing := map[string]map[controller.ScramMechanism]int32{}
	if ok {
		existing = store.ScramUsers()
	}
	checkName := func(user string, mech int8) bool {
		if user == "" {
			fail(user, kerr.UnacceptableCredential.Code, "Username must not be empty")
			return false
		}
		if controller.ScramMechanism(mech).Name() == "" {
			fail(user, kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism")
			return false
		}
		return true
	}
	var deletes []controller.ScramDelete
	delIdx := map[string]int{}
	for _, d := range req.Deletions {
		if _, bad := failed[d.Name]; bad {
			continue
		}
		if i, dup := delIdx[d.Name]; dup && i >= 0 {
			delIdx[d.Name] = -1
			fail(d.Name, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
			continue
		}
		if !checkName(d.Name, d.Mechanism) {
			continue
		}
		if _, ok := existing[d.Name][controller.ScramMechanism(d.Mechanism)]; !ok {
			fail(d.Name, kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
			continue
		}
		delIdx[d.Name] = len(deletes)
		deletes = append(deletes, controller.ScramDelete{User: d.Name, Mechanism: controller.ScramMechanism(d.Mechanism)})
	}
	var upserts []controller.ScramUpsert
	upIdx := map[string]int{}
	for _, u := range req.Upsertions {
		if _, bad := failed[u.Name]; bad {
			continue
		}
		_, inDel := delIdx[u.Name]
		_, inUp := upIdx[u.Name]
		if inDel || inUp {
			delIdx[u.Name], upIdx[u.Name] = -1, -1
			fail(u.Name, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
			continue
		}
		if !checkName(u.Name, u.Mechanism) {
			continue
		}
		switch {
		case u.Iterations < 4096:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too few iterations")
			continue
		case u.Iterations > maxScramIterations:
			fail(u.Name, kerr.UnacceptableCredential.Code, "Too many iterations")
			continue
		}
		m := controller.ScramMechanism(u.Mechanism)
		upIdx[u.Name] = len(upserts)
		upserts = append(upserts, controller.ScramUpsert{User: u.Name, Mechanism: m,
			Credential: scramCredential(m, u.Salt, u.SaltedPassword, u.Iterations)})
	}
	// Entries dropped as duplicates after they were accepted.
	keepD := deletes[:0]
	for _, d := range deletes {
		if delIdx[d.User] >= 0 {
			keepD = append(keepD, d)
		}
	}
	keepU := upserts[:0]
	for _, u := range upserts {
		if upIdx[u.User] >= 0 {
			keepU = append(keepU, u)
		}
	}
	deletes, upserts = keepD, keepU
	if len(deletes)+len(upserts) > 0 {
		if !ok {
			return nil, errNoScramStore
		}
		if err := store.AlterScramCredentials(ctx, upserts, deletes); err != nil {
			code, msg := errCode(err), errMessage(err)
			for _, d := range deletes {
				fail(d.User, code, deref(msg))
			}
			for _, u := range upserts {
				fail(u.User, code, deref(msg))
			}
			deletes, upserts = nil, nil
		}
	}
	for _, d := range deletes {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = d.User
		resp.Results = append(resp.Results, res)
	}
	for _, u := range upserts {
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User = u.User
		resp.Results = append(resp.Results, res)
		r.Logger.Info("SCRAM credential set", "user", u.User, "mechanism", u.Mechanism.Name(), "iterations", u.Credential.Iterations)
	}
	for _, user := range failOrder {
		f := failed[user]
		res := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		res.User, res.ErrorCode = user, f.code
		if f.msg != "" {
			res.ErrorMessage = kmsg.StringPtr(f.msg)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// scramCredential derives what is stored from the salted password the
// client computed (Kafka's ScramFormatter): StoredKey = H(HMAC(salted,
// "Client Key")), ServerKey = HMAC(salted, "Server Key").
func scramCredential(m controller.ScramMechanism, salt, salted []byte, iterations int32) controller.ScramCredential {
	h := sha256.New
	if m == controller.ScramSHA512 {
		h = sha512.New
	}
	mac := func(key []byte, msg string) []byte {
		x := hmac.New(h, key)
		x.Write([]byte(msg))
		return x.Sum(nil)
	}
	sum := func(b []byte) []byte {
		var x hash.Hash = h()
		x.Write(b)
		return x.Sum(nil)
	}
	return controller.ScramCredential{
		Salt:       append([]byte(nil), salt...),
		StoredKey:  sum(mac(salted, "Client Key")),
		ServerKey:  mac(salted, "Server Key"),
		Iterations: iterations,
	}
}

var errNoScramStore = errorString("this controller keeps no SCRAM credentials")

type errorString string

func (e errorString) Error() string { return string(e) }
