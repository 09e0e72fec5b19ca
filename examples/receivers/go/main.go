// A Leadpipe delivery receiver: verifies the Standard Webhooks signature with
// the standard-webhooks Go library and X-Leadpipe-Signature by hand, both on
// the raw body, before anything is parsed.
//
//	LEADPIPE_SECRET=whsec_… PORT=8080 go run .
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	secret := os.Getenv("LEADPIPE_SECRET")
	if !strings.HasPrefix(secret, "whsec_") {
		log.Fatal("LEADPIPE_SECRET=whsec_… is required (the subscription's secret)")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		log.Fatalf("LEADPIPE_SECRET: %v", err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		log.Fatalf("standard webhooks: %v", err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}

	http.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		standardOK := wh.Verify(raw, r.Header) == nil
		leadpipeOK := leadpipeSignatureOK(key, raw, r.Header.Get("X-Leadpipe-Signature"))
		id := r.Header.Get("webhook-id")
		mu.Lock()
		duplicate := seen[id]
		seen[id] = true
		mu.Unlock()
		var body struct {
			Type string `json:"type"`
		}
		if standardOK && leadpipeOK {
			_ = json.Unmarshal(raw, &body)
		}
		line, _ := json.Marshal(map[string]any{
			"verified": standardOK && leadpipeOK, "standard": standardOK, "leadpipe": leadpipeOK,
			"webhookId": id, "type": body.Type, "duplicate": duplicate,
		})
		log.Println(string(line))
		w.Header().Set("Content-Type", "application/json")
		if standardOK && leadpipeOK {
			w.Write([]byte(`{"ok": true}`))
		} else {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"ok": false}`))
		}
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}

// X-Leadpipe-Signature: sha256=<hex HMAC-SHA256(key, body)>, compared in constant time.
func leadpipeSignatureOK(key, body []byte, header string) bool {
	got, found := strings.CutPrefix(header, "sha256=")
	if !found {
		return false
	}
	decoded, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(decoded, mac.Sum(nil))
}
