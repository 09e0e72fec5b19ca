<?php
// A Leadpipe delivery receiver: verifies the Standard Webhooks signature with
// the standard-webhooks PHP library and X-Leadpipe-Signature by hand, both on
// the raw body, before anything is parsed.
//
//   composer install && LEADPIPE_SECRET=whsec_… php -S 127.0.0.1:8080 receiver.php

require __DIR__ . '/vendor/autoload.php';

$secret = getenv('LEADPIPE_SECRET') ?: '';
if (!str_starts_with($secret, 'whsec_')) {
    http_response_code(500);
    error_log('LEADPIPE_SECRET=whsec_… is required (the subscription\'s secret)');
    exit;
}
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/hook') {
    http_response_code(404);
    exit;
}

$raw = file_get_contents('php://input');
$headers = array_change_key_case(getallheaders(), CASE_LOWER);

try {
    (new \StandardWebhooks\Webhook($secret))->verify($raw, $headers);
    $standardOk = true;
} catch (\Throwable $e) {
    $standardOk = false;
}

// X-Leadpipe-Signature: sha256=<hex HMAC-SHA256(key, body)>, compared in constant time.
$key = base64_decode(substr($secret, strlen('whsec_')), true);
$header = $headers['x-leadpipe-signature'] ?? '';
$leadpipeOk = $key !== false
    && str_starts_with($header, 'sha256=')
    && hash_equals(hash_hmac('sha256', $raw, $key), substr($header, strlen('sha256=')));

$ok = $standardOk && $leadpipeOk;
$type = $ok ? (json_decode($raw, true)['type'] ?? null) : null;
error_log(json_encode(['verified' => $ok, 'standard' => $standardOk, 'leadpipe' => $leadpipeOk,
    'webhookId' => $headers['webhook-id'] ?? null, 'type' => $type]));
header('Content-Type: application/json');
http_response_code($ok ? 200 : 401);
echo $ok ? '{"ok": true}' : '{"ok": false}';
