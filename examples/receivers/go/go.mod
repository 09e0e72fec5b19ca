module example.com/leadpipe-receiver

go 1.21

require github.com/standard-webhooks/standard-webhooks/libraries v0.0.0-20250711233419-a173aa29c0c3
