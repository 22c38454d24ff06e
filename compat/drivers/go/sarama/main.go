// sarama driver for the compat suite: Debian's golang-github-shopify-sarama-dev, built offline in
// GOPATH mode. Reads one op as JSON on stdin (see compat/ops.ts), prints one JSON result line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type outMessage struct {
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp *int64      `json:"timestamp"`
	Partition *int32      `json:"partition"`
}

type inMessage struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"`
}

type op struct {
	Op              string            `json:"op"`
	Topic           string            `json:"topic"`
	Partitions      int32             `json:"partitions"`
	Configs         map[string]string `json:"configs"`
	Messages        []outMessage      `json:"messages"`
	Compression     string            `json:"compression"`
	Idempotent      bool              `json:"idempotent"`
	Partition       int32             `json:"partition"`
	From            json.RawMessage   `json:"from"`
	Count           int               `json:"count"`
	TimeoutMs       int               `json:"timeoutMs"`
	Isolation       string            `json:"isolation"`
	Strict          bool              `json:"strict"`
	Timestamp       int64             `json:"timestamp"`
	Group           string            `json:"group"`
	PreCount        int               `json:"preCount"`
	Names           []string          `json:"names"`
	Offset          int64             `json:"offset"`
	TransactionalID string            `json:"transactionalId"`
	Offsets         []partitionOffset `json:"offsets"`
}

type partitionOffset struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

type request struct {
	Bootstrap string `json:"bootstrap"`
	ClientID  string `json:"clientId"`
	Op        op     `json:"op"`
}

type result map[string]interface{}

func config(req request) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_1_0_0
	c.ClientID = req.ClientID
	c.Metadata.Retry.Max = 2
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Max = 2
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	return c
}

func str(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func toIn(m *sarama.ConsumerMessage) inMessage {
	hs := [][2]string{}
	for _, h := range m.Headers {
		hs = append(hs, [2]string{string(h.Key), string(h.Value)})
	}
	return inMessage{Partition: m.Partition, Offset: m.Offset, Key: str(m.Key), Value: str(m.Value), Headers: hs, Timestamp: m.Timestamp.UnixNano() / 1e6}
}

func admin(req request) (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{req.Bootstrap}, config(req))
}

func opProduce(req request) (result, error) {
	o := req.Op
	c := config(req)
	for _, m := range o.Messages {
		if m.Partition != nil {
			c.Producer.Partitioner = sarama.NewManualPartitioner
		}
	}
	c.Producer.Flush.Messages = len(o.Messages)
	c.Producer.Flush.Frequency = 50 * time.Millisecond
	switch o.Compression {
	case "gzip":
		c.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		c.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		c.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		c.Producer.Compression = sarama.CompressionZSTD
	}
	if o.Idempotent {
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{req.Bootstrap}, c)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	msgs := []*sarama.ProducerMessage{}
	for _, m := range o.Messages {
		pm := &sarama.ProducerMessage{Topic: o.Topic}
		if m.Key != nil {
			pm.Key = sarama.StringEncoder(*m.Key)
		}
		if m.Value != nil {
			pm.Value = sarama.StringEncoder(*m.Value)
		}
		for _, h := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		if m.Timestamp != nil {
			pm.Timestamp = time.Unix(0, *m.Timestamp*1e6)
		}
		if m.Partition != nil {
			pm.Partition = *m.Partition
		}
		msgs = append(msgs, pm)
	}
	if err := p.SendMessages(msgs); err != nil {
		return nil, err
	}
	return result{}, nil
}

type start struct {
	Offset    *int64 `json:"offset"`
	Timestamp *int64 `json:"timestamp"`
}

func startOffset(client sarama.Client, o op) (int64, error) {
	var earliest string
	if json.Unmarshal(o.From, &earliest) == nil && earliest == "earliest" {
		return sarama.OffsetOldest, nil
	}
	var s start
	if err := json.Unmarshal(o.From, &s); err != nil {
		return 0, err
	}
	if s.Offset != nil {
		return *s.Offset, nil
	}
	return client.GetOffset(o.Topic, o.Partition, *s.Timestamp)
}

func opConsume(req request) (result, error) {
	o := req.Op
	c := config(req)
	if o.Isolation == "read_uncommitted" {
		c.Consumer.IsolationLevel = sarama.ReadUncommitted
	} else {
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	client, err := sarama.NewClient([]string{req.Bootstrap}, c)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	off, err := startOffset(client, o)
	if err != nil {
		return nil, err
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(o.Topic, o.Partition, off)
	if err != nil {
		return nil, err
	}
	defer pc.Close()
	got := []inMessage{}
	deadline := time.After(time.Duration(o.TimeoutMs) * time.Millisecond)
	for len(got) < o.Count {
		select {
		case m := <-pc.Messages():
			got = append(got, toIn(m))
		case e := <-pc.Errors():
			return nil, e.Err
		case <-deadline:
			return result{"messages": got}, nil
		}
	}
	return result{"messages": got}, nil
}

// handler is a sarama consumer group handler that records assignments and messages.
type handler struct {
	mu       sync.Mutex
	topic    string
	assigned []int32
	events   int
	got      []inMessage
	limit    int
	done     chan struct{}
	once     sync.Once
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events++
	ps := append([]int32{}, s.Claims()[h.topic]...)
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	h.assigned = ps
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.assigned = nil
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		if h.limit > 0 && len(h.got) >= h.limit {
			h.mu.Unlock()
			h.once.Do(func() { close(h.done) })
			continue
		}
		h.got = append(h.got, toIn(m))
		s.MarkMessage(m, "")
		full := h.limit > 0 && len(h.got) >= h.limit
		h.mu.Unlock()
		if full {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func (h *handler) snapshot() ([]int32, []inMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int32{}, h.assigned...), append([]inMessage{}, h.got...)
}

// runGroup keeps a member in the group until ctx ends (Consume returns at every rebalance).
func runGroup(ctx context.Context, g sarama.ConsumerGroup, topic string, h *handler) {
	go func() {
		for range g.Errors() {
		}
	}()
	for ctx.Err() == nil {
		if err := g.Consume(ctx, []string{topic}, h); err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func opGroupConsume(req request) (result, error) {
	o := req.Op
	c := config(req)
	c.Consumer.Offsets.CommitInterval = 100 * time.Millisecond
	g, err := sarama.NewConsumerGroup([]string{req.Bootstrap}, o.Group, c)
	if err != nil {
		return nil, err
	}
	h := &handler{topic: o.Topic, limit: o.Count, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { runGroup(ctx, g, o.Topic, h); close(finished) }()
	select {
	case <-h.done:
	case <-time.After(time.Duration(o.TimeoutMs) * time.Millisecond):
	}
	time.Sleep(300 * time.Millisecond) // one commit interval
	cancel()
	<-finished
	if err := g.Close(); err != nil {
		return nil, err
	}
	_, got := h.snapshot()
	return result{"messages": got}, nil
}

func until(check func() bool, ms int, what string) error {
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for !check() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %d ms: %s", ms, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil
}

type consumed struct {
	Partition int32  `json:"partition"`
	Value     string `json:"value"`
}

func opRebalance(req request) (result, error) {
	o := req.Op
	ctx, cancel := context.WithCancel(context.Background())
	var groups []sarama.ConsumerGroup
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		for _, g := range groups {
			g.Close()
		}
	}()
	startMember := func() (*handler, error) {
		g, err := sarama.NewConsumerGroup([]string{req.Bootstrap}, o.Group, config(req))
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
		h := &handler{topic: o.Topic, done: make(chan struct{})}
		wg.Add(1)
		go func() { defer wg.Done(); runGroup(ctx, g, o.Topic, h) }()
		return h, nil
	}
	a, err := startMember()
	if err != nil {
		return nil, err
	}
	if err := until(func() bool { as, got := a.snapshot(); return len(got) >= o.PreCount && int32(len(as)) == o.Partitions }, o.TimeoutMs, "member A alone"); err != nil {
		return nil, err
	}
	phase1, _ := a.snapshot()
	b, err := startMember()
	if err != nil {
		return nil, err
	}
	split := func() bool {
		x, _ := a.snapshot()
		y, _ := b.snapshot()
		if len(x) == 0 || len(y) == 0 || int32(len(x)+len(y)) != o.Partitions {
			return false
		}
		for _, p := range x {
			for _, q := range y {
				if p == q {
					return false
				}
			}
		}
		return true
	}
	if err := until(split, o.TimeoutMs, "A and B sharing the partitions"); err != nil {
		return nil, err
	}
	pa, _ := a.snapshot()
	pb, _ := b.snapshot()
	c := config(req)
	c.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{req.Bootstrap}, c)
	if err != nil {
		return nil, err
	}
	post := []string{}
	msgs := []*sarama.ProducerMessage{}
	for part := int32(0); part < o.Partitions; part++ {
		for i := 0; i < 2; i++ {
			v := fmt.Sprintf("post-%d-%d", part, i)
			post = append(post, v)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: o.Topic, Partition: part, Value: sarama.StringEncoder(v)})
		}
	}
	err = p.SendMessages(msgs)
	p.Close()
	if err != nil {
		return nil, err
	}
	seen := func() bool {
		_, ga := a.snapshot()
		_, gb := b.snapshot()
		have := map[string]bool{}
		for _, m := range append(ga, gb...) {
			if m.Value != nil {
				have[*m.Value] = true
			}
		}
		for _, v := range post {
			if !have[v] {
				return false
			}
		}
		return true
	}
	if err := until(seen, o.TimeoutMs, "post-rebalance messages consumed"); err != nil {
		return nil, err
	}
	conv := func(ms []inMessage) []consumed {
		out := []consumed{}
		for _, m := range ms {
			if m.Value != nil {
				out = append(out, consumed{m.Partition, *m.Value})
			}
		}
		return out
	}
	_, ga := a.snapshot()
	_, gb := b.snapshot()
	return result{"phase1": phase1, "phase2": map[string][]int32{"A": pa, "B": pb}, "consumed": map[string][]consumed{"A": conv(ga), "B": conv(gb)}}, nil
}

func opOffsetForTime(req request) (result, error) {
	client, err := sarama.NewClient([]string{req.Bootstrap}, config(req))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	off, err := client.GetOffset(req.Op.Topic, req.Op.Partition, req.Op.Timestamp)
	if err != nil {
		return nil, err
	}
	return result{"offset": off}, nil
}

// groupState gives Kafka's names for group states (brokers before 2.0 said AwaitingSync).
func groupState(s string) string {
	if s == "AwaitingSync" {
		return "CompletingRebalance"
	}
	return s
}

func opListGroups(req request) (result, error) {
	a, err := admin(req)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	gs, err := a.ListConsumerGroups() // ListGroups v0: group ids and protocol types, no states
	if err != nil {
		return nil, err
	}
	out := []map[string]interface{}{}
	for id, protocolType := range gs {
		out = append(out, map[string]interface{}{"groupId": id, "protocolType": protocolType})
	}
	return result{"groups": out}, nil
}

func opDescribeGroup(req request) (result, error) {
	a, err := admin(req)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ds, err := a.DescribeConsumerGroups([]string{req.Op.Group})
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.GroupId != req.Op.Group {
			continue
		}
		if d.Err != sarama.ErrNoError {
			return nil, d.Err
		}
		out := result{"state": groupState(d.State), "members": len(d.Members)}
		if d.ProtocolType != "" {
			out["protocolType"] = d.ProtocolType
		}
		return out, nil
	}
	return nil, sarama.ErrIncompleteResponse
}

func opGroupOffsets(req request) (result, error) {
	o := req.Op
	a, err := admin(req)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	parts := []int32{}
	for p := int32(0); p < o.Partitions; p++ {
		parts = append(parts, p)
	}
	resp, err := a.ListConsumerGroupOffsets(o.Group, map[string][]int32{o.Topic: parts})
	if err != nil {
		return nil, err
	}
	if resp.Err != sarama.ErrNoError {
		return nil, resp.Err
	}
	out := []partitionOffset{}
	for _, p := range parts {
		b := resp.GetBlock(o.Topic, p)
		if b == nil {
			return nil, sarama.ErrIncompleteResponse
		}
		if b.Err != sarama.ErrNoError {
			return nil, b.Err
		}
		out = append(out, partitionOffset{p, b.Offset})
	}
	return result{"offsets": out}, nil
}

// opSetGroupOffsets commits through sarama's OffsetManager made from a plain client
// (NewOffsetManagerFromClient): no group membership, generation -1 and an empty member id, which
// brokers accept for a group without members. ResetOffset moves an offset back (MarkOffset only
// moves it forward). The commit happens when the manager closes, the refusals come back on the
// partition managers' Errors channels (Consumer.Return.Errors is set).
func opSetGroupOffsets(req request) (result, error) {
	o := req.Op
	c := config(req)
	c.Consumer.Offsets.CommitInterval = time.Hour // no background flush: Close commits
	client, err := sarama.NewClient([]string{req.Bootstrap}, c)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	om, err := sarama.NewOffsetManagerFromClient(o.Group, client)
	if err != nil {
		return nil, err
	}
	poms := []sarama.PartitionOffsetManager{}
	for _, po := range o.Offsets {
		pom, err := om.ManagePartition(o.Topic, po.Partition)
		if err != nil {
			for _, p := range poms {
				p.AsyncClose()
			}
			om.Close()
			return nil, err
		}
		pom.MarkOffset(po.Offset, "")
		pom.ResetOffset(po.Offset, "")
		poms = append(poms, pom)
	}
	var mu sync.Mutex
	var errs []*sarama.ConsumerError
	var wg sync.WaitGroup
	for _, pom := range poms {
		wg.Add(1)
		go func(pom sarama.PartitionOffsetManager) {
			defer wg.Done()
			for e := range pom.Errors() {
				mu.Lock()
				errs = append(errs, e)
				mu.Unlock()
			}
		}(pom)
		pom.AsyncClose()
	}
	om.Close() // flushes (Consumer.Offsets.Retry.Max more times while dirty), then releases the partition managers
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return result{}, nil
}

// opDeleteGroup: sarama 1.22's ClusterAdmin has no DeleteConsumerGroup; its public Broker API has
// DeleteGroups, sent to the group's coordinator (what later sarama's ClusterAdmin does).
func opDeleteGroup(req request) (result, error) {
	client, err := sarama.NewClient([]string{req.Bootstrap}, config(req))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	b, err := client.Coordinator(req.Op.Group)
	if err != nil {
		return nil, err
	}
	resp, err := b.DeleteGroups(&sarama.DeleteGroupsRequest{Groups: []string{req.Op.Group}})
	if err != nil {
		return nil, err
	}
	k, ok := resp.GroupErrorCodes[req.Op.Group]
	if !ok {
		return nil, sarama.ErrIncompleteResponse
	}
	if k != sarama.ErrNoError {
		return nil, k
	}
	return result{}, nil
}

func run(req request) (result, error) {
	o := req.Op
	switch o.Op {
	case "version":
		return result{"version": "sarama, Kafka protocol " + sarama.V2_1_0_0.String()}, nil
	case "createTopic":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		entries := map[string]*string{}
		for k, v := range o.Configs {
			v := v
			entries[k] = &v
		}
		return result{}, a.CreateTopic(o.Topic, &sarama.TopicDetail{NumPartitions: o.Partitions, ReplicationFactor: 1, ConfigEntries: entries}, false)
	case "listTopics":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		ts, err := a.ListTopics()
		if err != nil {
			return nil, err
		}
		names := []string{}
		for t := range ts {
			names = append(names, t)
		}
		return result{"topics": names}, nil
	case "describeTopic":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		md, err := a.DescribeTopics([]string{o.Topic})
		if err != nil {
			return nil, err
		}
		if md[0].Err != sarama.ErrNoError {
			return nil, md[0].Err
		}
		return result{"partitions": len(md[0].Partitions)}, nil
	case "deleteTopic":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		return result{}, a.DeleteTopic(o.Topic)
	case "produce":
		return opProduce(req)
	case "consume":
		return opConsume(req)
	case "offsetForTime":
		return opOffsetForTime(req)
	case "groupConsume":
		return opGroupConsume(req)
	case "rebalance":
		return opRebalance(req)
	case "describeConfigs":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		entries, err := a.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: o.Topic, ConfigNames: o.Names})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, e := range entries {
			out[e.Name] = e.Value
		}
		return result{"configs": out}, nil
	case "alterConfigs":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		entries := map[string]*string{}
		for k, v := range o.Configs {
			v := v
			entries[k] = &v
		}
		return result{}, a.AlterConfig(sarama.TopicResource, o.Topic, entries, false)
	case "createPartitions":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		return result{}, a.CreatePartitions(o.Topic, int32(o.Count), nil, false)
	case "deleteRecords":
		a, err := admin(req)
		if err != nil {
			return nil, err
		}
		defer a.Close()
		return result{}, a.DeleteRecords(o.Topic, map[int32]int64{o.Partition: o.Offset})
	case "listGroups":
		return opListGroups(req)
	case "describeGroup":
		return opDescribeGroup(req)
	case "groupOffsets":
		return opGroupOffsets(req)
	case "setGroupOffsets":
		return opSetGroupOffsets(req)
	case "deleteGroup":
		return opDeleteGroup(req)
	}
	return nil, fmt.Errorf("op %s not implemented by this driver", o.Op)
}

// describe finds the Kafka error code inside sarama's error types.
func describe(err error) map[string]interface{} {
	out := map[string]interface{}{"name": fmt.Sprintf("%T", err), "message": err.Error()}
	var code *sarama.KError
	switch e := err.(type) {
	case sarama.KError:
		code = &e
	case *sarama.TopicError:
		code = &e.Err
	case sarama.ProducerErrors:
		if len(e) > 0 {
			if k, ok := e[0].Err.(sarama.KError); ok {
				code = &k
			}
			out["message"] = e[0].Err.Error()
		}
	case *sarama.ConsumerError:
		if k, ok := e.Err.(sarama.KError); ok {
			code = &k
		}
	}
	var k sarama.KError
	if code == nil && errors.As(err, &k) {
		code = &k
	}
	if code != nil {
		out["code"] = int(*code)
		out["name"] = "sarama.KError"
		if !strings.Contains(out["message"].(string), code.Error()) {
			out["message"] = fmt.Sprintf("%s: %s", code.Error(), out["message"])
		}
	}
	return out
}

func main() {
	in, _ := ioutil.ReadAll(os.Stdin)
	var req request
	var out map[string]interface{}
	if err := json.Unmarshal(in, &req); err != nil {
		out = map[string]interface{}{"ok": false, "error": map[string]interface{}{"name": "BadRequest", "message": err.Error()}}
	} else if r, err := run(req); err != nil {
		out = map[string]interface{}{"ok": false, "error": describe(err)}
	} else {
		out = map[string]interface{}{"ok": true}
		for k, v := range r {
			out[k] = v
		}
	}
	b, _ := json.Marshal(out)
	fmt.Printf("\n%s\n", b)
}
