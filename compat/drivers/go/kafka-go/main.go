// segmentio/kafka-go driver for the compat suite: Debian's golang-github-segmentio-kafka-go-dev
// (0.2, 2018: magic-1 message sets, no headers, no zstd), built offline in GOPATH mode. Produces and
// reads single partitions through its Conn API (DialLeader), groups through its Reader. Reads one op
// as JSON on stdin (see compat/ops.ts), prints one JSON result line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

type outMessage struct {
	Key       *string `json:"key"`
	Value     *string `json:"value"`
	Timestamp *int64  `json:"timestamp"`
	Partition *int    `json:"partition"`
}

type inMessage struct {
	Partition int         `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"`
}

type op struct {
	Op          string            `json:"op"`
	Topic       string            `json:"topic"`
	Partitions  int               `json:"partitions"`
	Configs     map[string]string `json:"configs"`
	Messages    []outMessage      `json:"messages"`
	Compression string            `json:"compression"`
	Partition   int               `json:"partition"`
	From        json.RawMessage   `json:"from"`
	Count       int               `json:"count"`
	TimeoutMs   int               `json:"timeoutMs"`
	Strict      bool              `json:"strict"`
	Timestamp   int64             `json:"timestamp"`
	Group       string            `json:"group"`
	PreCount    int               `json:"preCount"`
}

type request struct {
	Bootstrap string `json:"bootstrap"`
	ClientID  string `json:"clientId"`
	Op        op     `json:"op"`
}

type result map[string]interface{}

func dialer(req request) *kafka.Dialer {
	return &kafka.Dialer{ClientID: req.ClientID, Timeout: 10 * time.Second}
}

func str(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func toIn(m kafka.Message) inMessage {
	return inMessage{Partition: m.Partition, Offset: m.Offset, Key: str(m.Key), Value: str(m.Value), Headers: [][2]string{}, Timestamp: m.Time.UnixNano() / 1e6}
}

func codec(name string) kafka.CompressionCodec {
	switch name {
	case "gzip":
		return gzip.NewCompressionCodec()
	case "snappy":
		return snappy.NewCompressionCodec()
	case "lz4":
		return lz4.NewCompressionCodec()
	}
	return nil
}

func opProduce(req request) (result, error) {
	o := req.Op
	byPartition := map[int][]kafka.Message{}
	order := []int{}
	for _, m := range o.Messages {
		p := 0
		if m.Partition != nil {
			p = *m.Partition
		}
		km := kafka.Message{Key: bytesOf(m.Key), Value: bytesOf(m.Value)}
		if m.Timestamp != nil {
			km.Time = time.Unix(0, *m.Timestamp*1e6)
		}
		if _, ok := byPartition[p]; !ok {
			order = append(order, p)
		}
		byPartition[p] = append(byPartition[p], km)
	}
	for _, p := range order {
		conn, err := dialer(req).DialLeader(context.Background(), "tcp", req.Bootstrap, o.Topic, p)
		if err != nil {
			return nil, err
		}
		conn.SetRequiredAcks(-1)
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		if c := codec(o.Compression); c != nil {
			_, err = conn.WriteCompressedMessages(c, byPartition[p]...)
		} else {
			_, err = conn.WriteMessages(byPartition[p]...)
		}
		conn.Close()
		if err != nil {
			return nil, err
		}
	}
	return result{}, nil
}

type start struct {
	Offset    *int64 `json:"offset"`
	Timestamp *int64 `json:"timestamp"`
}

func opConsume(req request) (result, error) {
	o := req.Op
	conn, err := dialer(req).DialLeader(context.Background(), "tcp", req.Bootstrap, o.Topic, o.Partition)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var earliest string
	if json.Unmarshal(o.From, &earliest) == nil && earliest == "earliest" {
		_, err = conn.Seek(0, kafka.SeekStart)
	} else {
		var s start
		if err = json.Unmarshal(o.From, &s); err != nil {
			return nil, err
		}
		off := int64(0)
		if s.Offset != nil {
			off = *s.Offset
		} else if off, err = conn.ReadOffset(time.Unix(0, *s.Timestamp*1e6)); err != nil {
			return nil, err
		}
		_, err = conn.Seek(off, kafka.SeekAbsolute)
	}
	if err != nil {
		return nil, err
	}
	got := []inMessage{}
	deadline := time.Now().Add(time.Duration(o.TimeoutMs) * time.Millisecond)
	for len(got) < o.Count && time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		m, err := conn.ReadMessage(10 << 20)
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				continue
			}
			return nil, err
		}
		got = append(got, toIn(m))
	}
	return result{"messages": got}, nil
}

func readerConfig(req request, o op) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers: []string{req.Bootstrap}, GroupID: o.Group, Topic: o.Topic, Dialer: dialer(req), MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 100 * time.Millisecond, HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: 10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
	}
}

func opGroupConsume(req request) (result, error) {
	o := req.Op
	r := kafka.NewReader(readerConfig(req, o))
	defer r.Close()
	got := []inMessage{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.TimeoutMs)*time.Millisecond)
	defer cancel()
	for len(got) < o.Count {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, err
		}
		got = append(got, toIn(m))
		if err := r.CommitMessages(context.Background(), m); err != nil {
			return nil, err
		}
	}
	return result{"messages": got}, nil
}

type consumed struct {
	Partition int    `json:"partition"`
	Value     string `json:"value"`
}

type member struct {
	mu       sync.Mutex
	r        *kafka.Reader
	got      []consumed
	assigned []int
}

// Write receives the Reader's log: "subscribed to partitions: map[0:12 2:-2]" names its assignment.
func (m *member) Write(b []byte) (int, error) {
	if match := subscribed.FindSubmatch(b); match != nil {
		parts := []int{}
		for _, kv := range partitionKey.FindAllSubmatch(match[1], -1) {
			p, _ := strconv.Atoi(string(kv[1]))
			parts = append(parts, p)
		}
		sort.Ints(parts)
		m.mu.Lock()
		m.assigned = parts
		m.mu.Unlock()
	}
	return len(b), nil
}

var subscribed = regexp.MustCompile(`subscribed to partitions: map\[([^\]]*)\]`)
var partitionKey = regexp.MustCompile(`(\d+):-?\d+`)

func (m *member) assignment() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int{}, m.assigned...)
}

func (m *member) snapshot() []consumed {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]consumed{}, m.got...)
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

// The 0.2 Reader has no assignment API; it logs each subscription, which is read as the assignment.
func opRebalance(req request) (result, error) {
	o := req.Op
	ctx, cancel := context.WithCancel(context.Background())
	var members []*member
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, m := range members {
			m.r.Close()
		}
		wg.Wait()
	}()
	startMember := func() *member {
		m := &member{}
		cfg := readerConfig(req, o)
		cfg.Logger = log.New(m, "", 0)
		m.r = kafka.NewReader(cfg)
		members = append(members, m)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				msg, err := m.r.ReadMessage(ctx)
				if err != nil {
					return
				}
				m.mu.Lock()
				m.got = append(m.got, consumed{msg.Partition, string(msg.Value)})
				m.mu.Unlock()
			}
		}()
		return m
	}
	a := startMember()
	if err := until(func() bool { return len(a.snapshot()) >= o.PreCount && len(a.assignment()) == o.Partitions }, o.TimeoutMs, "member A alone"); err != nil {
		return nil, err
	}
	phase1 := a.assignment()
	b := startMember()
	split := func() bool {
		x, y := a.assignment(), b.assignment()
		if len(x) == 0 || len(y) == 0 || len(x)+len(y) != o.Partitions {
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
	phase2 := map[string][]int{"A": a.assignment(), "B": b.assignment()}
	post := []string{}
	for p := 0; p < o.Partitions; p++ {
		conn, err := dialer(req).DialLeader(context.Background(), "tcp", req.Bootstrap, o.Topic, p)
		if err != nil {
			return nil, err
		}
		vs := []kafka.Message{}
		for i := 0; i < 2; i++ {
			v := fmt.Sprintf("post-%d-%d", p, i)
			post = append(post, v)
			vs = append(vs, kafka.Message{Value: []byte(v)})
		}
		conn.SetRequiredAcks(-1)
		_, err = conn.WriteMessages(vs...)
		conn.Close()
		if err != nil {
			return nil, err
		}
	}
	seen := func() bool {
		have := map[string]bool{}
		for _, c := range append(a.snapshot(), b.snapshot()...) {
			have[c.Value] = true
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
	return result{"phase1": phase1, "phase2": phase2, "consumed": map[string][]consumed{"A": a.snapshot(), "B": b.snapshot()}}, nil
}

func run(req request) (result, error) {
	o := req.Op
	switch o.Op {
	case "version":
		return result{"version": "kafka-go"}, nil
	case "createTopic":
		conn, err := dialer(req).Dial("tcp", req.Bootstrap)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		entries := []kafka.ConfigEntry{}
		for k, v := range o.Configs {
			entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		return result{}, conn.CreateTopics(kafka.TopicConfig{Topic: o.Topic, NumPartitions: o.Partitions, ReplicationFactor: 1, ConfigEntries: entries})
	case "listTopics":
		conn, err := dialer(req).Dial("tcp", req.Bootstrap)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		parts, err := conn.ReadPartitions()
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		names := []string{}
		for _, p := range parts {
			if !seen[p.Topic] {
				seen[p.Topic] = true
				names = append(names, p.Topic)
			}
		}
		return result{"topics": names}, nil
	case "describeTopic":
		conn, err := dialer(req).Dial("tcp", req.Bootstrap)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		parts, err := conn.ReadPartitions(o.Topic)
		if err != nil {
			return nil, err
		}
		return result{"partitions": len(parts)}, nil
	case "deleteTopic":
		conn, err := dialer(req).Dial("tcp", req.Bootstrap)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return result{}, conn.DeleteTopics(o.Topic)
	case "produce":
		return opProduce(req)
	case "consume":
		return opConsume(req)
	case "offsetForTime":
		conn, err := dialer(req).DialLeader(context.Background(), "tcp", req.Bootstrap, o.Topic, o.Partition)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		off, err := conn.ReadOffset(time.Unix(0, o.Timestamp*1e6))
		if err != nil {
			return nil, err
		}
		return result{"offset": off}, nil
	case "groupConsume":
		return opGroupConsume(req)
	case "rebalance":
		return opRebalance(req)
	}
	return nil, fmt.Errorf("op %s not implemented by this driver", o.Op)
}

func main() {
	in, _ := ioutil.ReadAll(os.Stdin)
	var req request
	var out map[string]interface{}
	if err := json.Unmarshal(in, &req); err != nil {
		out = map[string]interface{}{"ok": false, "error": map[string]interface{}{"name": "BadRequest", "message": err.Error()}}
	} else if r, err := run(req); err != nil {
		e := map[string]interface{}{"name": fmt.Sprintf("%T", err), "message": err.Error()}
		if k, ok := err.(kafka.Error); ok {
			e["code"] = int(k)
			e["name"] = "kafka.Error"
		}
		out = map[string]interface{}{"ok": false, "error": e}
	} else {
		out = map[string]interface{}{"ok": true}
		for k, v := range r {
			out[k] = v
		}
	}
	b, _ := json.Marshal(out)
	fmt.Printf("\n%s\n", b)
}
