//! The floor for HTTP functions: an empty `lambda_http` function answering
//! 200, built with the same profile as Leadpipe's.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_req: Request| async {
        Ok::<_, Error>(Response::new(Body::Text("ok".into())))
    }))
    .await
}
