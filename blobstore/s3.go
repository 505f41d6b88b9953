// The S3 store: blobs as objects in a bucket of any S3-compatible service,
// written as multipart uploads of bounded parts (memory stays at one part
// whatever the file's size), downloaded through presigned GET URLs.

package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Config names the bucket and how to reach it.
type S3Config struct {
	Endpoint        string // e.g. https://s3.eu-west-1.amazonaws.com or http://minio:9000; empty: AWS's
	Region          string
	Bucket          string
	Prefix          string // prepended to every key, e.g. "artifacts/"
	AccessKeyID     string
	SecretAccessKey string
	PathStyle       bool // bucket in the path (MinIO, SeaweedFS, most self-hosted services)
}

// S3 keeps blobs in a bucket.
type S3 struct {
	client   *s3.Client
	presign  *s3.PresignClient
	bucket   string
	prefix   string
	partSize int
}

// NewS3 returns a store on cfg's bucket.
func NewS3(cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("blobstore: an S3 bucket is required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	opts := s3.Options{Region: cfg.Region, UsePathStyle: cfg.PathStyle}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.AccessKeyID != "" {
		creds := aws.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, Source: "nls config"}
		opts.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	}
	client := s3.New(opts)
	return &S3{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket, prefix: cfg.Prefix,
		partSize: 8 << 20}, nil
}

func (s *S3) key(k string) (string, error) {
	if !validKey(k) {
		return "", fmt.Errorf("blobstore: invalid key %q", k)
	}
	return s.prefix + k, nil
}

// Put implements Store: one PutObject for a blob smaller than a part, else
// a multipart upload whose parts are read one at a time.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) (Written, error) {
	obj, err := s.key(key)
	if err != nil {
		return Written{}, err
	}
	h := sha256.New()
	src := io.TeeReader(r, h)
	buf := make([]byte, s.partSize)
	n, err := io.ReadFull(src, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return Written{}, err
	}
	var w Written
	if n < s.partSize { // the whole blob fits in one part
		if _, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &obj,
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n))}); err != nil {
			return Written{}, err
		}
		w.Size = int64(n)
		copy(w.SHA256[:], h.Sum(nil))
		return w, nil
	}
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &obj})
	if err != nil {
		return Written{}, err
	}
	abort := func(err error) (Written, error) {
		_, _ = s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.bucket,
			Key: &obj, UploadId: up.UploadId})
		return Written{}, err
	}
	var parts []types.CompletedPart
	for num := int32(1); n > 0; num++ {
		res, err := s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.bucket, Key: &obj, UploadId: up.UploadId,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n))})
		if err != nil {
			return abort(err)
		}
		parts = append(parts, types.CompletedPart{ETag: res.ETag, PartNumber: aws.Int32(num)})
		w.Size += int64(n)
		n, err = io.ReadFull(src, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return abort(err)
		}
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: &obj,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		return abort(err)
	}
	copy(w.SHA256[:], h.Sum(nil))
	return w, nil
}

// DownloadURL implements Store: a presigned GET that names the file and
// its type in the response headers.
func (s *S3) DownloadURL(ctx context.Context, key, filename, contentType string, ttl time.Duration) (string, error) {
	obj, err := s.key(key)
	if err != nil {
		return "", err
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": filename})
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &obj,
		ResponseContentDisposition: &disp, ResponseContentType: &contentType}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.key(key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &obj})
	return err
}
