// @runnel/client: producer, consumer and admin client for Runnel clusters.
export {};
