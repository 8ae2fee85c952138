use tianjian_tests::TestServer;

#[tokio::test]
async fn server_answers_healthz_on_a_loopback_port() {
    let server = TestServer::start().await.unwrap();
    let (status, body) = server.get("/healthz").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "ok");

    let unknown = server.get("/no-such-route").await.unwrap();
    assert_eq!(unknown.0, 404);
    server.stop().await.unwrap();
}
